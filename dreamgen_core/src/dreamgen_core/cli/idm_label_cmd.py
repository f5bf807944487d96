"""`dreamgen idm label DREAMS --idm CKPT --out DATASET`: dreams labelled with the IDM's actions, a GR00T dataset."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dreamgen_core.idm.label import REPORT, LabelOptions, label_dreams
from dreamgen_core.idm.scale import parse_range

EPILOG = """\
examples:
  dreamgen idm label dreams --idm idm_ckpt --out dreams_labelled                 in this process
  dreamgen idm label dreams --idm idm_ckpt --out dreams_labelled --workers 4     4 CPU actors, local Ray
  dreamgen idm label /shared/dreams --idm /shared/idm --out /shared/labelled --ray-address auto   one actor per GPU
  dreamgen idm label photos_dreams --idm idm_ckpt --out labelled --view centre   first frames not from a clip set
re-running the same command skips dreams already labelled by the same IDM (key: dream mp4 sha256 + IDM hash).

Each dream is resampled to the IDM's dataset fps (nearest-earlier: each dream frame held for its duration),
labelled with a chunk at every frame, and per frame the chunks covering it are averaged. The dataset holds
state zeros, the actions, task "<DREAM> <instruction>", and meta/stats.json "action" = the IDM's training
stats. The scale check compares the labels' per-joint std with the IDM's training std and warns by name.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="label world-model dreams with the IDM into a GR00T dataset",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dreams", type=Path, help="a `dreamgen wm dream` output directory (mp4 + JSON sidecars)")
    p.add_argument("--idm", type=Path, required=True, metavar="CKPT", help="a `dreamgen idm train` checkpoint")
    p.add_argument("--out", type=Path, required=True, metavar="DATASET", help="output dataset (created; extended)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="CPU Ray actors (default 1: no Ray); on a cluster with GPUs one actor per GPU instead")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="join this Ray cluster ('auto', 'ray://head:10001') instead of a private local instance")
    p.add_argument("--view", metavar="centre|T,L,B,R",
                   help="where dream frames sit in the camera frame when no clip set records it: 'centre' (a "
                        "centred crop to the dream's aspect ratio) or fractions top,left,bottom,right")
    p.add_argument("--scale-range", default="0.5,2", metavar="LOW,HIGH",
                   help="warn for joints whose label std / IDM training std is outside (default 0.5,2)")
    add_predictor_arguments(p)
    p.set_defaults(run=run)


def add_predictor_arguments(p: argparse.ArgumentParser) -> None:
    """How the IDM runs (label and eval alike): batch, torch threads, device."""
    p.add_argument("--batch", type=int, default=64, help="frame pairs per IDM call (default 64)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads per IDM (default 1: the same bits on every worker)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda where a GPU is visible, else cpu")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    options = LabelOptions(workers=args.workers, ray_address=args.ray_address, view=args.view,
                           scale_range=parse_range(args.scale_range), batch=args.batch, threads=args.threads,
                           device=args.device)
    report = label_dreams(args.dreams, args.idm, args.out, options)
    where = f"{report.actors} Ray actors" if report.actors else "this process"
    print(f"{args.out}: {len(report.labelled)} dreams labelled ({where}), {len(report.skipped)} already labelled "
          f"by this IDM; report {args.out / REPORT}")
    if report.scale is not None:
        print(("" if report.scale.ok else "WARNING ") + report.scale.message())
    return 0
