"""`dreamgen convert BAG_OR_DIR… --out DATASET`: episode bags → a GR00T-LeRobot v2 dataset."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from dreamgen_core.convert import ConvertConfig, Status, convert_bags, default_workers
from dreamgen_core.dataset.videos import RawSize
from dreamgen_core.embodiment import load_embodiment

DEFAULTS = ConvertConfig()


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "convert", help="convert episode bags (rosbag2 MCAP) into a GR00T-LeRobot v2 dataset",
        description="Convert episode bags into a GR00T-LeRobot v2 dataset (parquet + h264 mp4 + meta/). "
                    "Frames are sampled at t0 + i/fps; state, action (the teleop command) and image are the "
                    "latest samples captured at or before each frame time, within the tolerances. Re-running "
                    "with more bags appends; a bag already in the dataset is skipped. Episodes whose QA "
                    "verdict is not ok are skipped unless --include-flagged. Beside the model view (e.g. "
                    "256x256 ego_view) the raw camera is stored under the spec's raw_video_key (--raw-size).")
    parser.add_argument("bags", nargs="+", type=Path, metavar="BAG_OR_DIR", help="episode bags or directories of them")
    parser.add_argument("--out", type=Path, required=True, help="dataset directory (created, or appended to)")
    parser.add_argument("--embodiment", default="gr1", help="embodiment spec name or YAML path (default: gr1)")
    parser.add_argument("--fps", type=float, help="dataset frame rate (default: the embodiment's dataset_fps)")
    parser.add_argument("--include-flagged", action="store_true", help="also convert episodes QA marked needs_review")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="episodes converted in parallel processes (default: one per core, %(default)d here)")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help="run the episodes as tasks on this Ray cluster instead ('auto', 'ray://head:10001', "
                             "'local' starts one here); bags and --out must be on a filesystem every node shares")
    parser.add_argument("--raw-size", type=_raw_size, default=DEFAULTS.raw_size, metavar="native|none|WxH",
                        help="raw camera video: native (the spec's camera resolution, default), a smaller WxH of "
                             "the same aspect ratio (e.g. 320x200 for CI and the demo), or none; never upscaled")
    parser.add_argument("--min-frames", type=int, default=DEFAULTS.min_frames,
                        help="reject episodes shorter than this many frames (default: %(default)d, the models' "
                             "action horizon)")
    for name, default in (("state", DEFAULTS.state_tolerance_s), ("image", DEFAULTS.image_tolerance_s)):
        parser.add_argument(f"--{name}-tolerance-ms", type=float, default=default * 1000,
                            help=f"max age of the {name} sample at a frame time (default: {default * 1000:g})")
    parser.add_argument("--action-tolerance-ms", type=float,
                        help="max age of the action sample at a frame time (default: the embodiment's "
                             "safety.source_timeout_s, after which the safety monitor holds)")
    parser.set_defaults(run=run)


def _raw_size(text: str) -> RawSize:
    if text in ("native", "none"):
        return None if text == "none" else "native"
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--raw-size {text!r}: expected native, none or WxH, e.g. 320x200") from None
    return height, width


def run(args: argparse.Namespace) -> int:
    spec = load_embodiment(args.embodiment)
    cfg = ConvertConfig(fps=args.fps, state_tolerance_s=args.state_tolerance_ms / 1000,
                        action_tolerance_s=None if args.action_tolerance_ms is None else args.action_tolerance_ms / 1000,
                        image_tolerance_s=args.image_tolerance_ms / 1000, include_flagged=args.include_flagged,
                        min_frames=args.min_frames, raw_size=args.raw_size)
    results = convert_bags(args.bags, args.out, spec, cfg, workers=args.workers, ray_address=args.ray_address)
    for r in results:
        print(f"{r.status:>9}  {r.message}")
    counts = Counter(r.status for r in results)
    frames = sum(r.frames for r in results)
    where = f"dataset {args.out}" if counts[Status.CONVERTED] else "no dataset written" if not args.out.exists() \
        else f"dataset {args.out} unchanged"
    print(f"{where}: converted {counts[Status.CONVERTED]} ({frames} frames), already there "
          f"{counts[Status.DUPLICATE]}, skipped {counts[Status.SKIPPED]}, rejected {counts[Status.REJECTED]}")
    return 1 if counts[Status.REJECTED] else 0
