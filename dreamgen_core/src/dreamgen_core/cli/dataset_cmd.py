"""`dreamgen validate DATASET` and `dreamgen export-clips DATASET --out DIR`: check datasets, feed the world model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dreamgen_core.dataset import ClipConfig, export_clips, validate
from dreamgen_core.dataset.layout import read_json

CLIPS_DESCRIPTION = ("Resample each episode explicitly from the dataset fps to --fps (nearest-earlier frame: "
                     "source index floor(t * fps_in) for output time t), crop the raw camera video to the clip's "
                     "aspect ratio (centred by default: no black bars) and resize to HxW (never upscaled unless "
                     "--allow-upscale), caption it "
                     "'The robot arm is performing a task. ' + instruction, and skip (and report) clips shorter "
                     "than --min-frames. The output directory appears atomically.")


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("validate", help="check every invariant of a GR00T-LeRobot v2.0 dataset",
                            description="List every violation (exit 1), or print a one-line summary (exit 0).")
    p.add_argument("dataset", type=Path, help="dataset root (holds meta/, data/, videos/)")
    p.set_defaults(run=run_validate)

    p = commands.add_parser("export-clips", help="world-model training clips (videos/, metas/, metadata.csv)",
                            description=CLIPS_DESCRIPTION)
    p.add_argument("dataset", type=Path, help="dataset root")
    p.add_argument("--out", type=Path, required=True, help="output directory (must not exist)")
    p.add_argument("--fps", type=float, default=ClipConfig.fps, help="clip frame rate (default: %(default)g)")
    p.add_argument("--min-frames", type=int, default=ClipConfig.min_frames,
                   help="skip clips with fewer frames after resampling (default: %(default)d)")
    p.add_argument("--size", type=parse_size, default=ClipConfig.size_hw, metavar="HxW",
                   help="clip frame size, height x width (default: 432x768)")
    p.add_argument("--video-key", default=None,
                   help="video feature to export (default: the raw camera video, e.g. observation.images.egoview)")
    p.add_argument("--crop-offset", type=float, default=ClipConfig.crop_offset, metavar="FRACTION",
                   help="where the crop window sits along the cut axis: 0 top/left, 0.5 centre (default), 1 bottom/right")
    p.add_argument("--allow-upscale", action="store_true",
                   help="allow clip frames larger than the crop of the source (refused by default)")
    p.set_defaults(run=run_export)


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected HxW, e.g. 432x768") from None
    return height, width


def run_validate(args: argparse.Namespace) -> int:
    problems = validate(args.dataset)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{args.dataset}: {len(problems)} violations", file=sys.stderr)
        return 1
    info = read_json(args.dataset / "meta" / "info.json")
    print(f"{args.dataset}: valid LeRobot {info['codebase_version']} dataset: {info['total_episodes']} episodes, "
          f"{info['total_frames']} frames, {info['total_tasks']} tasks, {info['total_videos']} videos "
          f"at {info['fps']} fps")
    return 0


def run_export(args: argparse.Namespace) -> int:
    config = ClipConfig(fps=args.fps, min_frames=args.min_frames, size_hw=args.size, video_key=args.video_key,
                        crop_offset=args.crop_offset, allow_upscale=args.allow_upscale)
    report = export_clips(args.dataset, args.out, config)
    print(f"framing: {report.framing.describe()}")
    for episode, why in report.skipped:
        print(f"skipped episode {episode}: {why}")
    print(f"{args.out}: {len(report.written)} clips at {config.fps:g} fps, {config.size_hw[0]}x{config.size_hw[1]}; "
          f"{len(report.skipped)} skipped")
    return 0
