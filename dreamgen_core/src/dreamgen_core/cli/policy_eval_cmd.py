"""`dreamgen policy eval POLICY --sim`: closed-loop success per task in the MuJoCo GR1, beside baselines."""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamgen_core.cli.dataset_cmd import parse_size

EPILOG = """\
examples:
  dreamgen policy eval policies/push --sim --tasks all --episodes 10 --out eval/push
  dreamgen policy eval policies/push --sim --tasks red_cube_to_green_target --seeds 1000:1020 --runtime torch --out eval/t
  dreamgen policy eval policies/push --sim --episodes 5 --dataset demos/ --baselines expert,random --videos 1 --out eval/v
  dreamgen policy eval --sim --baselines expert,random --episodes 5 --out eval/floor     baselines only, no policy

POLICY: an exported policy (dreamgen policy export) or, with --runtime torch, a training checkpoint.
Episodes: --episodes N evaluates held-out seeds 1000..1000+N-1 (a seed fixes the scene; train on
0:N), or --seeds START:STOP. Each episode runs the policy through the runtime and the robot's safety
monitor at the control rate, executing --execute actions of each chunk before asking again (the
sim waits for inference); success is the sim's check (cube flat inside its target) held for 1 s.
Baselines on the same seeds: expert (scripted, ground truth), mean_replay (the mean action trajectory
of each task's demos in --dataset, default: the real datasets the policy was trained on; tasks
without demos have none), random (uniform targets in the envelope).
writes: OUT/report.json, OUT/success.png, OUT/videos/*.mp4 (--videos N per controller)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="closed-loop success per task in the simulated GR1, with baselines",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("policy", type=Path, nargs="?", default=None, metavar="POLICY",
                   help="exported policy directory (omit to run baselines only)")
    p.add_argument("--sim", action="store_true", required=True,
                   help="evaluate in the MuJoCo GR1 (the only evaluator; on the robot: dreamgen-stack deploy)")
    p.add_argument("--tasks", default="all", metavar="all|NAME,...", help="sim tasks (default: all)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--episodes", type=int, default=None, help="episodes per task on seeds 1000.. (default: 10)")
    seeds.add_argument("--seeds", default=None, metavar="START:STOP", help="explicit held-out seeds")
    p.add_argument("--runtime", default="onnxruntime", help="torch | onnxruntime | tensorrt | auto (default: %(default)s)")
    p.add_argument("--baselines", default="expert,mean_replay", metavar="NAME,...",
                   help="expert, mean_replay, random, or none (default: %(default)s)")
    p.add_argument("--dataset", type=Path, action="append", default=None, metavar="DATASET",
                   help="real demos for the mean_replay baseline (repeatable)")
    p.add_argument("--execute", type=int, default=8, help="actions of each chunk executed per query (default: 8)")
    p.add_argument("--max-episode-s", type=float, default=15.0, help="episode time limit, sim seconds (default: 15)")
    p.add_argument("--workers", type=int, default=2, help="episode processes (default: %(default)s)")
    p.add_argument("--camera-size", type=parse_size, default=(200, 320), metavar="HxW",
                   help="head camera render size; match `dreamgen sim dataset --camera-size` of the demos (default: 200x320)")
    p.add_argument("--videos", type=int, default=0, help="episodes filmed per controller, its first ones (default: 0)")
    p.add_argument("--out", type=Path, required=True, help="report directory (replaced when it exists)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.policy.eval import EvalConfig, evaluate, format_table, training_datasets, trajectories_from_datasets
    from dreamgen_core.policy.rollout import RolloutConfig
    from dreamgen_core.sim.episodes import parse_seeds
    from dreamgen_core.sim.task import parse_tasks

    baselines = [] if args.baselines == "none" else [b.strip() for b in args.baselines.split(",") if b.strip()]
    controllers = (["policy"] if args.policy else []) + baselines
    seeds = parse_seeds(args.seeds) if args.seeds else tuple(range(1000, 1000 + (args.episodes or 10)))
    datasets = args.dataset or (training_datasets(args.policy) if args.policy and "mean_replay" in baselines else [])
    trajectories, fps = trajectories_from_datasets(datasets) if "mean_replay" in baselines else ({}, 20.0)
    if "mean_replay" in baselines and not trajectories:
        print("mean_replay: no real demos found (--dataset), baseline left out")
    config = EvalConfig(parse_tasks(args.tasks), seeds, tuple(controllers), args.runtime, args.execute,
                        camera_hw=args.camera_size, rollout=RolloutConfig(max_episode_s=args.max_episode_s),
                        workers=args.workers, videos=args.videos)
    report = evaluate(args.out, config, args.policy, trajectories, fps)
    print(format_table(report))
    if report.backend:
        latency = report.latency
        print(f"policy runtime: {report.backend}; act latency p50 {latency['p50_ms']:.2f} ms, "
              f"p99 {latency['p99_ms']:.2f} ms over {latency['calls']} calls")
    print(f"executing {args.execute} of each chunk's actions per query; {report.seconds:.0f} s; "
          f"{args.out}/report.json, success.png")
    return 0
