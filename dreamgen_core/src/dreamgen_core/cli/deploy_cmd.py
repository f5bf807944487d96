"""`dreamgen deploy --sim POLICY_DIR`: the policy in closed loop through the whole ROS graph, success per task."""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from dreamgen_core.config import ConfigError

EPILOG = """\
examples:
  dreamgen deploy --sim runs/policy_export                      every task of the sim, 1 episode each
  dreamgen deploy --sim runs/policy_ckpt --runtime torch --tasks red_cube_to_green_target --episodes 3
  dreamgen deploy --sim runs/policy_export --out deploy_report --camera 320x200
  dreamgen deploy --sim runs/policy_export --record rollouts     every rollout also saved as an episode bag

Starts the deploy stack (as `dreamgen-stack deploy --sim`: sim_robot, safety_monitor on the policy
source, policy_node) and deploy_director, which for every episode resets the sim to the task,
activates the policy, enables the monitor (ramp-in from the measured pose) and judges the sim's
success check (held 1 s; the same rule as `dreamgen policy eval --sim`). Prints success per task;
writes REPORT/deploy.json and the node logs to REPORT/logs. On the real robot use
`ros2 launch dreamgen deploy.launch.py policy:=DIR` and enable by hand.
"""


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("deploy", help="run a policy through the ROS graph (safety monitor, policy node)",
                            description=__doc__.splitlines()[0], epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("policy", type=Path, metavar="POLICY_DIR", help="an exported policy (or a checkpoint with --runtime torch)")
    p.add_argument("--sim", action="store_true", required=True, help="against the simulated GR1 (the only mode here)")
    p.add_argument("--runtime", default="onnxruntime", help="onnxruntime | torch | tensorrt (default: %(default)s)")
    p.add_argument("--tasks", default="all", metavar="all|NAME,...", help="sim tasks (default: all)")
    p.add_argument("--episodes", type=int, default=1, help="episodes per task (default: %(default)d)")
    p.add_argument("--max-episode-s", type=float, default=None,
                   help="sim seconds an episode may take after enable (default: policy eval's 15 + the 2 s ramp-in)")
    p.add_argument("--camera", default="320x200", metavar="WxH", help="sim camera size (default: %(default)s)")
    p.add_argument("--record", type=Path, default=None, metavar="DIR",
                   help="record every rollout as an episode bag in DIR, with its outcome (episode_recorder)")
    p.add_argument("--embodiment", default="gr1", help="embodiment spec name or path (default: gr1)")
    p.add_argument("--out", type=Path, default=Path("deploy_report"), help="report directory (default: deploy_report)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.ros.discovery import require_safe
    from dreamgen_core.ros.node_process import find_share
    from dreamgen_core.ros.stack_runner import StackRunner
    from dreamgen_core.sim.task import parse_tasks
    from dreamgen_core.stack import PlannedNode, load_stack, plan

    if not (args.policy / "policy.yaml").is_file() and not (args.policy / "policy_config.yaml").is_file():
        raise FileNotFoundError(f"{args.policy}: no policy.yaml (an exported policy) nor policy_config.yaml")
    if args.episodes < 1:
        raise ConfigError("<arguments>", "--episodes", args.episodes, "must be >= 1")
    tasks = parse_tasks(args.tasks)
    require_safe(os.environ, "dreamgen deploy")
    width, height = (int(v) for v in args.camera.lower().split("x"))
    share = find_share("dreamgen", os.environ)
    args.out.mkdir(parents=True, exist_ok=True)
    report = (args.out / "deploy.json").resolve()
    report.unlink(missing_ok=True)
    policy = str(args.policy.resolve())
    overrides: dict[str, dict[str, Any]] = {
        "sim_robot": {"camera_width": width, "camera_height": height},
        "safety_monitor": {"ood_stats": policy},  # OOD warnings from the policy's own norm
        "policy_node": {"policy": policy, "runtime": args.runtime, "instruction": tasks[0].instruction}}
    timing: dict[str, Any] = {} if args.max_episode_s is None else {"episode_timeout_s": args.max_episode_s}
    nodes = plan(load_stack(share / "config" / "deploy.yaml"), sim=True, embodiment=args.embodiment, share_dir=share,
                 overrides=overrides)
    extra: list[PlannedNode] = []
    if args.record is not None:
        extra.append(PlannedNode("dreamgen", "episode_recorder", "episode_recorder", {
            "embodiment": args.embodiment, "use_sim_time": True, "operator": "deploy",
            "config": str(share / "config" / "deploy_recording.yaml"), "output_dir": str(args.record.resolve()),
            "calibration_dir": str(share / "calibration")}))
        timing["recorder"] = "episode_recorder"
    director = PlannedNode("dreamgen", "deploy_director", "deploy_director",
                           {"embodiment": args.embodiment, "use_sim_time": True, "episodes": args.episodes,
                            "report": str(report), "instructions": [t.instruction for t in tasks], **timing})
    logs = args.out / "logs"
    with StackRunner([*nodes, *extra, director], logs) as runner:
        name, code = runner.wait_until_exit()
    if name != "deploy_director" or code != 0 or not report.is_file():
        print(f"deploy failed: {name} exited with {code}; see {logs / (name + '.log')}")
        return 1
    results = json.loads(report.read_text())
    by_task: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        by_task[r["instruction"]].append(bool(r["success"]))
    for task in tasks:
        wins = by_task[task.instruction]
        print(f"  {task.name}: {sum(wins)}/{len(wins)} successes")
    if args.record is not None:
        print(f"  rollouts recorded: {sum(bool(r.get('saved')) for r in results)}/{len(results)} in {args.record}")
    print(f"-> {report}   node logs: {logs}")
    return 0
