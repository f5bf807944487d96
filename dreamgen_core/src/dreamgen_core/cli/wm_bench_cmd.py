"""`dreamgen wm bench`: DreamGen Bench scores of a directory of dreams (instruction following, physics)."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dreamgen wm bench DREAMS --judge sim                  our sim tasks, decided from the pixels, offline
  dreamgen wm bench DREAMS --judge vlm --model /models/Qwen2.5-VL-7B-Instruct --device cuda
  OPENAI_API_KEY=... dreamgen wm bench DREAMS --judge openai --base-url https://api.openai.com/v1 --model gpt-4o
  dreamgen wm bench DREAMS --judge openai --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-VL-7B-Instruct

Writes OUT/instruction_following.csv and OUT/physics_alignment.csv (video_path,prompt,prediction,
as the reference bench does) and OUT/scores.json (the means, per-video notes); OUT defaults to
DREAMS/bench_<judge>. The instruction of each dream is its sidecar's exact text, else the file
name's (<idx>_<Instruction_underscored>).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="DreamGen Bench: score dreams with a judge (sim, vlm, openai)",
                       description=__doc__.splitlines()[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dreams", type=Path, help="directory of <idx>_<Instruction>.mp4 dreams (+ .json sidecars)")
    p.add_argument("--judge", default="sim", help="sim | vlm | openai (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: DREAMS/bench_<judge>)")
    p.add_argument("--model", default=None, help="vlm: local model directory; openai: the served model's name")
    p.add_argument("--base-url", default=None, help="openai: endpoint base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="openai: environment variable holding the API key (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, help="openai: seconds per request (default: %(default)g)")
    p.add_argument("--frames", type=int, default=8, help="vlm/openai: frames shown per video (default: %(default)d)")
    p.add_argument("--device", default="cpu", help="vlm: torch device (default: %(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.worldmodel.bench.judge import JudgeOptions
    from dreamgen_core.worldmodel.bench.runner import default_out, run_bench

    options = JudgeOptions(model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                           timeout_s=args.timeout, num_frames=args.frames, device=args.device)
    out = args.out or default_out(args.dreams, args.judge)
    scores = run_bench(args.dreams, args.judge, options, out)
    for name, mean in scores.means.items():
        print(f"{name}: {mean:.3f} over {scores.count} videos")
    print(f"{out}: instruction_following.csv, physics_alignment.csv, scores.json ({args.judge} judge)")
    return 0
