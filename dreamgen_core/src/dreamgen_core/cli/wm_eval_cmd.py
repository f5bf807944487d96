"""`dreamgen wm eval`: dreams measured against the real held-out episodes they started from, beside baselines."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dreamgen wm sim-clips --out TRAIN --seeds 0:200
  dreamgen wm sim-clips --out HELDOUT --seeds 1000:1020
  dreamgen wm eval DREAMS --real HELDOUT --train TRAIN            table on stdout, DREAMS/eval/quality.json

Each dream is matched to the held-out clip with its instruction whose first frame it starts from.
Rows: the model, and the baselines of design/CPU_WORLD_MODEL.md (copy the first frame, mean training
motion, nearest training clip by first frame). PSNR excludes frame 0 (given, not predicted); cube
errors are in pixels of the dreams' frames; instruction following is the sim judge's.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="PSNR, cube error and sim-judge rate of dreams vs real videos and baselines",
                       description=__doc__.splitlines()[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dreams", type=Path, help="directory of dreams (+ .json sidecars)")
    p.add_argument("--real", type=Path, required=True, help="clip set of the held-out episodes the dreams start from")
    p.add_argument("--train", type=Path, required=True, help="clip set the model was trained on (baselines)")
    p.add_argument("--out", type=Path, default=None, help="JSON report (default: DREAMS/eval/quality.json)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.worldmodel.quality import evaluate, write_report

    report = evaluate(args.dreams, args.real, args.train)
    out = args.out or args.dreams / "eval" / "quality.json"
    write_report(report, out)
    print(report.table())
    for name in report.unmatched:
        print(f"unmatched: {name}: no held-out clip with its instruction starts from its first frame")
    print(f"{out}: {len(report.matched)} dreams matched to held-out clips, {len(report.unmatched)} unmatched")
    return 0
