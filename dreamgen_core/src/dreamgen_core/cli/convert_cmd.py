"""`dreamgen convert BAG_OR_DIR… --out DATASET`: episode bags → a GR00T-LeRobot v2 dataset."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

from dreamgen_core.convert import ConvertConfig, convert_bags
from dreamgen_core.embodiment import load_embodiment

DEFAULTS = ConvertConfig()


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "convert", help="convert episode bags (rosbag2 MCAP) into a GR00T-LeRobot v2 dataset",
        description="Convert episode bags into a GR00T-LeRobot v2 dataset (parquet + h264 mp4 + meta/). "
                    "Frames are sampled at t0 + i/fps; state, action (the teleop command) and image are the "
                    "latest samples captured at or before each frame time, within the tolerances. Re-running "
                    "with more bags appends; a bag already in the dataset is skipped. Episodes whose QA "
                    "verdict is not ok are skipped unless --include-flagged.")
    parser.add_argument("bags", nargs="+", type=Path, metavar="BAG_OR_DIR", help="episode bags or directories of them")
    parser.add_argument("--out", type=Path, required=True, help="dataset directory (created, or appended to)")
    parser.add_argument("--embodiment", default="gr1", help="embodiment spec name or YAML path (default: gr1)")
    parser.add_argument("--fps", type=float, help="dataset frame rate (default: the embodiment's dataset_fps)")
    parser.add_argument("--include-flagged", action="store_true", help="also convert episodes QA marked needs_review")
    parser.add_argument("--workers", type=int, default=max(1, min(4, (os.cpu_count() or 2) - 1)),
                        help="episodes read in parallel (default: cores - 1, at most 4)")
    for name, default in (("state", DEFAULTS.state_tolerance_s), ("image", DEFAULTS.image_tolerance_s)):
        parser.add_argument(f"--{name}-tolerance-ms", type=float, default=default * 1000,
                            help=f"max age of the {name} sample at a frame time (default: {default * 1000:g})")
    parser.add_argument("--action-tolerance-ms", type=float,
                        help="max age of the action sample at a frame time (default: the embodiment's "
                             "safety.source_timeout_s, after which the safety monitor holds)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = load_embodiment(args.embodiment)
    cfg = ConvertConfig(fps=args.fps, state_tolerance_s=args.state_tolerance_ms / 1000,
                        action_tolerance_s=None if args.action_tolerance_ms is None else args.action_tolerance_ms / 1000,
                        image_tolerance_s=args.image_tolerance_ms / 1000, include_flagged=args.include_flagged)
    results = convert_bags(args.bags, args.out, spec, cfg, workers=args.workers)
    for r in results:
        print(f"{r.status:>9}  {r.message}")
    counts = Counter(r.status for r in results)
    frames = sum(r.frames for r in results)
    where = f"dataset {args.out}" if counts["converted"] else "no dataset written" if not args.out.exists() \
        else f"dataset {args.out} unchanged"
    print(f"{where}: converted {counts['converted']} ({frames} frames), already there {counts['duplicate']}, "
          f"skipped {counts['skipped']}, rejected {counts['rejected']}")
    return 1 if counts["rejected"] else 0
