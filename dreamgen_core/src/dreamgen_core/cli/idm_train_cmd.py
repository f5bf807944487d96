"""`dreamgen idm train DATASET... --out CKPT`: train the inverse dynamics model on recorded demos."""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamgen_core.idm.errors import IdmError

EPILOG = """\
examples:
  dreamgen idm train demos/ --out runs/idm                       the CPU defaults (small CNN, flow head)
  dreamgen idm train demos_a/ demos_b/ --out runs/idm --steps 4000 --batch-size 128
  dreamgen idm train demos/ --out runs/idm-siglip --encoder siglip --encoder-path /models/siglip2-base-patch16-224
  dreamgen idm train demos/ --out runs/idm --config my_idm.yaml  an IdmConfig YAML (flags override it)

Samples: every frame t of every episode, the frame pair (t, min(t+k, T-1)) and the actions
a_t..a_{t+H-1} (the last action repeated past the end). Actions are normalized min-max to [-1, 1]
with the stats of exactly these datasets, stored in the checkpoint. Frames are decoded once into
CKPT/cache/.

The same command again resumes a killed run from its newest checkpoint (CKPT/checkpoints/) with
exactly the weights of an uninterrupted run; a larger --steps extends a finished one. A CKPT of
another config or other datasets is refused.

several GPUs (each process takes its share of every batch; gradients averaged):
  accelerate launch --multi_gpu --num_processes 8 -m dreamgen_core.cli.main idm train DATASET --out runs/idm

writes: CKPT/model.safetensors + CKPT/idm.yaml (what `load_idm` and `idm label` read), checkpoints/,
cache/, loss.csv, loss.png.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the IDM on datasets of demos (resumable)",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", type=Path, nargs="+", metavar="DATASET", help="GR00T-LeRobot datasets of demos")
    p.add_argument("--out", type=Path, required=True, help="checkpoint directory (created, or resumed when it exists)")
    p.add_argument("--config", type=Path, default=None, help="IdmConfig YAML (default: the built-in CPU config)")
    p.add_argument("--encoder", default=None, help="vision encoder: cnn, vit or siglip (default: the config's)")
    p.add_argument("--encoder-path", default=None, help="local pretrained encoder directory (siglip)")
    p.add_argument("--head", choices=("flow", "regression"), default=None, help="action head (default: flow)")
    p.add_argument("--k", type=int, default=None, help="frame gap of the pair (default: the config's, 8)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the config's)")
    p.add_argument("--batch-size", type=int, default=None, help="samples per step (default: the config's)")
    p.add_argument("--seed", type=int, default=None, help="training seed (default: the config's, 0)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available, else cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of torch (default: one per core; 1 is often faster on a busy machine)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.idm.train import train

    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise IdmError(f"--threads {args.threads}: must be at least 1")
        torch.set_num_threads(args.threads)
    overrides = {"encoder": args.encoder, "encoder_path": args.encoder_path, "head": args.head, "k": args.k,
                 "train.steps": args.steps, "train.batch_size": args.batch_size, "train.seed": args.seed}
    outcome = train(args.datasets, args.out, config=args.config,
                    overrides={k: v for k, v in overrides.items() if v is not None}, device=args.device)
    if not outcome.main_process:
        return 0
    print(outcome.describe())
    return 0
