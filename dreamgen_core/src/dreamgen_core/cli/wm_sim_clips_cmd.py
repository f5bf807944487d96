"""`dreamgen wm sim-clips`: world-model training and held-out clips from the simulated GR1, without ROS."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dreamgen wm sim-clips --out CLIPS --seeds 0:200                      every task of seeds 0..199, 64x64
  dreamgen wm sim-clips --out HELDOUT --seeds 1000:1020 --tasks red_cube_to_green_target,blue_cube_to_yellow_target
  dreamgen wm sim-clips --out BIG --seeds 0:50 --size 432x768 --workers 2

Clips = seeds x tasks; a seed fixes the layout of cubes and targets, so disjoint seed ranges are
disjoint scenes (train on 0:200, evaluate on 1000:1020). Episodes the expert fails are left out,
counted here and listed in provenance.json. The layout is `dreamgen dataset export-clips`' own:
videos/, metas/, metadata.csv, provenance.json, at 16 fps.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim-clips", help="clips of the scripted expert in the MuJoCo GR1 (no ROS)",
                       description=__doc__.splitlines()[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output clip set (must not exist)")
    p.add_argument("--seeds", required=True, metavar="START:STOP",
                   help="episode seeds, STOP excluded (e.g. 0:200), or one seed")
    p.add_argument("--tasks", default="all", metavar="all|NAME,...",
                   help="tasks filmed for every seed (default: all), e.g. red_cube_to_green_target")
    p.add_argument("--size", type=_size, default=(64, 64), metavar="N|HxW",
                   help="clip frame size: N for NxN, or HxW (default: 64)")
    p.add_argument("--workers", type=int, default=2, help="episode processes (default: %(default)d)")
    p.add_argument("--embodiment", default="gr1", help="embodiment spec (default: %(default)s)")
    p.set_defaults(run=run)


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected N or HxW, e.g. 64 or 432x768")
    return (parts[0], parts[-1])


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.sim.episodes import parse_seeds
    from dreamgen_core.sim.task import parse_tasks
    from dreamgen_core.worldmodel.sim_clips import SimClipConfig, make_sim_clips

    config = SimClipConfig(seeds=parse_seeds(args.seeds), tasks=parse_tasks(args.tasks), size_hw=args.size, workers=args.workers,
                           embodiment=args.embodiment)
    report = make_sim_clips(args.out, config)
    episodes = len(report.episodes)
    print(f"framing: {report.framing.describe()}")
    for episode in report.failed:
        print(f"left out: seed {episode.seed} {episode.task}: the expert failed")
    print(f"{args.out}: {len(report.written)} clips at 16 fps, {config.size_hw[0]}x{config.size_hw[1]}, "
          f"{len(report.failed)} of {episodes} episodes failed and left out; "
          f"{report.seconds:.1f} s, {episodes / report.seconds:.2f} episodes/s with {config.workers} workers")
    return 0
