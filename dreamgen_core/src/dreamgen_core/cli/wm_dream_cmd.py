"""`dreamgen wm dream PROMPTS --model RUN --out DREAMS`: one video per prompt row, serially or with Ray actors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dreamgen_core.worldmodel.dream import FAILURES, DreamOptions, Outcome, dream

EPILOG = """\
examples:
  dreamgen wm dream frames/prompts.jsonl --model runs/sim --out dreams            serial, in this process
  dreamgen wm dream prompts.csv --model runs/sim --out dreams --workers 2         2 CPU actors, local Ray
  dreamgen wm dream prompts.jsonl --model runs/wan --out /shared/dreams --ray-address auto   one actor per GPU
  dreamgen wm dream prompts.jsonl --model runs/sim --out dreams --best-of 4 --judge sim      keep the best of 4 seeds
re-running the same command skips finished dreams and redoes failed, edited or half-written ones.

PROMPTS: JSONL (one object a line) or CSV (header row) with image (relative to the prompt file), instruction,
seed, and optionally negative_prompt, steps, guidance (default: the recipe's sample: settings).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dream", help="generate dream videos from initial frames and instructions",
                       description="Write <idx>_<Instruction_underscored>.mp4 (h264, at the recipe's fps) and a "
                                   "JSON sidecar per prompt row (exact instruction, seed, sampler settings, model, "
                                   "LoRA and initial-frame hashes, device, time). Items that fail every attempt are "
                                   f"listed in DREAMS/{FAILURES} and make the exit code 1.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("prompts", type=Path, help="prompt file (.jsonl or .csv), e.g. from `dreamgen wm frames`")
    p.add_argument("--model", type=Path, required=True, metavar="RUN", help="a finished `dreamgen wm train` run")
    p.add_argument("--out", type=Path, required=True, metavar="DREAMS", help="output directory (created; reused)")
    p.add_argument("--base", type=Path, help="where the run's base model lives now, if it moved since training")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="CPU Ray actors (default 1: no Ray); on a cluster with GPUs one actor per GPU instead")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="join this Ray cluster ('auto', 'ray://head:10001') instead of a private local instance")
    p.add_argument("--retries", type=int, default=2, help="attempts after the first for a failed item (default 2)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda where a GPU is visible, else cpu")
    p.add_argument("--best-of", type=int, default=1, metavar="N",
                   help="generate seeds seed..seed+N-1 per row and keep the one --judge ranks highest (default 1)")
    p.add_argument("--judge", metavar="NAME", help="DreamGen Bench judge (sim, vlm, openai) for --best-of; its scores go "
                   "in the sidecar")
    p.add_argument("--judge-model", metavar="PATH|NAME", help="vlm: local model directory; openai: the model name")
    p.add_argument("--judge-base-url", metavar="URL", help="openai: the endpoint, e.g. http://127.0.0.1:8000/v1")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.worldmodel.bench.judge import JudgeOptions

    options = DreamOptions(workers=args.workers, ray_address=args.ray_address, retries=args.retries,
                           device=args.device, base=args.base, best_of=args.best_of, judge=args.judge,
                           judge_options=JudgeOptions(model=args.judge_model, base_url=args.judge_base_url))
    report = dream(args.prompts, args.model, args.out, options)
    where = f"{report.actors} Ray actors" if report.actors else "this process"
    print(f"{args.out}: {report.count(Outcome.DREAMED)} dreamed ({where}), {report.count(Outcome.SKIPPED)} already "
          f"finished, {len(report.failures)} failed")
    for failure in report.failures:
        print(f"failed: {failure.stem} after {failure.attempts} attempts: {failure.error}", file=sys.stderr)
    if report.failures:
        print(f"{args.out / FAILURES}: {len(report.failures)} failed items", file=sys.stderr)
        return 1
    return 0
