"""`dreamgen sim`: the simulated GR1 without ROS: demonstration datasets from the scripted expert."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dreamgen sim dataset DEMOS --tasks red_cube_to_green_target,blue_cube_to_yellow_target --seeds 0:20
  dreamgen sim dataset HELDOUT --tasks all --seeds 1000:1010 --workers 2
  dreamgen sim dataset DEMOS --tasks all --seeds 0:200 --camera-size 800x1280    the camera's native size

One GR00T-LeRobot dataset, as `dreamgen convert` writes from recorded bags: state = measured
joint positions, action = the expert's commanded targets, at the dataset's fps; the head camera's
model view plus the raw camera video at --camera-size. Episodes = seeds x tasks; a seed fixes the
layout of cubes and targets, so disjoint seed ranges are disjoint scenes (train on 0:N, evaluate on
1000:1000+M). Episodes the expert fails are left out and listed. OUT may exist: episodes already in
it (same task and seed) are not run again, and the dataset is committed every --commit-every
episodes, so an interrupted run is resumed by running it again.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sim", help="simulated GR1 without ROS: demo datasets",
                                 description=__doc__.splitlines()[0], epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="sim_command", required=True, metavar="SIM_COMMAND")
    p = sub.add_parser("dataset", help="record the scripted expert's demos as a GR00T dataset",
                       description="Record the scripted expert's episodes in the MuJoCo GR1 as a GR00T-LeRobot "
                                   "dataset, without ROS.", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, metavar="OUT", help="dataset directory (created, or extended if it exists)")
    p.add_argument("--tasks", required=True, metavar="all|NAME,...",
                   help="tasks recorded for every seed, e.g. red_cube_to_green_target, or all")
    p.add_argument("--seeds", required=True, metavar="START:STOP",
                   help="episode seeds, STOP excluded (e.g. 0:20), or one seed")
    p.add_argument("--workers", type=int, default=1, help="episode processes (default: %(default)d)")
    p.add_argument("--camera-size", type=_size, default=(200, 320), metavar="HxW",
                   help="rendered camera size, also the raw video's (default: 200x320, the CI camera)")
    p.add_argument("--commit-every", type=int, default=50, metavar="N",
                   help="episodes per commit: what an interrupted run keeps (default: %(default)d)")
    p.add_argument("--embodiment", default="gr1", help="embodiment spec (default: %(default)s)")
    p.set_defaults(run=run)


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--camera-size {text!r}: expected HxW, e.g. 200x320") from None
    return height, width


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.sim.dataset import record_sim_dataset
    from dreamgen_core.sim.episodes import parse_seeds
    from dreamgen_core.sim.task import parse_tasks

    tasks = [t.name for t in parse_tasks(args.tasks)]
    report = record_sim_dataset(args.out, tasks, parse_seeds(args.seeds), spec_name=args.embodiment,
                                camera_hw=args.camera_size, workers=args.workers, commit_every=args.commit_every)
    for episode in report.failed:
        print(f"left out: seed {episode.seed} {episode.task}: the expert failed (the sim's success check)")
    frames = sum(e.length for e in report.added)
    print(f"{args.out}: {len(report.added)} episodes added ({frames} frames), {len(report.present)} already there, "
          f"{len(report.failed)} failed and left out; {report.seconds:.1f} s, "
          f"{report.seconds_per_episode:.1f} s per episode in its worker, {args.workers} workers")
    return 0
