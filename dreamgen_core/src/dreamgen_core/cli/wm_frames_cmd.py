"""`dreamgen wm frames DATASET --out DIR`: initial frames of episodes and a prompt file to edit for `wm dream`."""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamgen_core.cli.dataset_cmd import parse_size
from dreamgen_core.dataset import ClipConfig
from dreamgen_core.worldmodel.frames import extract_frames
from dreamgen_core.worldmodel.prompts import PROMPTS_FILE

EPILOG = f"""\
examples:
  dreamgen wm frames datasets/gr1_real --out frames                   every episode, framed like export-clips
  dreamgen wm frames datasets/gr1_real --out frames --episodes 0 3 --size 64x64
then edit frames/{PROMPTS_FILE} (one JSON object a line: image, instruction, seed, and optionally
negative_prompt, steps, guidance): add photos of new scenes, instructions of tasks without demos, more seeds.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("frames", help="first frames of episodes + a prompt file for `wm dream`",
                       description="Write the first frame of each episode's raw camera video as PNG, cropped to the "
                                   "clip aspect ratio and resized exactly as `dreamgen export-clips` frames clips, "
                                   f"plus {PROMPTS_FILE} with the episode's instruction and a seed. The output "
                                   "directory must not exist and appears atomically.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", type=Path, help="dataset root (holds meta/, data/, videos/)")
    p.add_argument("--out", type=Path, required=True, help="output directory (must not exist)")
    p.add_argument("--episodes", type=int, nargs="+", metavar="N", help="episode indices (default: all)")
    p.add_argument("--size", type=parse_size, default=ClipConfig.size_hw, metavar="HxW",
                   help="frame size, height x width, as the clips the model trained on (default: 432x768)")
    p.add_argument("--video-key", default=None, help="video feature (default: the raw camera video)")
    p.add_argument("--crop-offset", type=float, default=ClipConfig.crop_offset, metavar="FRACTION",
                   help="where the crop window sits along the cut axis: 0 top/left, 0.5 centre (default), 1 bottom/right")
    p.add_argument("--allow-upscale", action="store_true", help="allow frames larger than the crop of the source")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = ClipConfig(size_hw=args.size, video_key=args.video_key, crop_offset=args.crop_offset,
                        allow_upscale=args.allow_upscale)
    report = extract_frames(args.dataset, args.out, config, args.episodes)
    print(f"framing: {report.video_key}: {report.framing.describe()}")
    for prompt in report.prompts:
        print(f"{args.out / prompt.image}: {prompt.instruction}")
    print(f"{args.out / PROMPTS_FILE}: {len(report.prompts)} prompts (edit or extend it, then `dreamgen wm dream`)")
    return 0
