"""`dreamgen wm train CLIPS --recipe NAME|FILE [--base PATH] --out RUN`: adapt a world model to the robot's clips."""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.recipe import recipe_names

EPILOG = """\
examples:
  dreamgen wm train CLIPS --recipe sim-tiny --out runs/sim              the CPU model, from scratch (no --base)
  dreamgen wm train CLIPS --recipe wan2.1-i2v --base /models/Wan2.1-I2V-14B-480P-Diffusers --out runs/wan
  dreamgen wm train CLIPS --recipe my_recipe.yaml --out runs/x --steps 50   a recipe file, fewer steps

The same command again resumes a killed run from its newest checkpoint (RUN/checkpoints/, every
train.checkpoint_every steps) with exactly the result of an uninterrupted run; a larger --steps
extends a finished one. A RUN of another recipe, base or clip set is refused.

several GPUs (each process takes its share of every batch; gradients averaged):
  accelerate launch --multi_gpu --num_processes 8 -m dreamgen_core.cli.main wm train CLIPS \\
      --recipe wan2.1-i2v --base /models/Wan2.1-I2V-14B-480P-Diffusers --out runs/wan
  (data parallel only: every GPU holds the whole model; FSDP sharding is not wired in yet)

writes: RUN/run.json, recipe.yaml, base/ (tiny models), cache/ (encoded clips), checkpoints/,
loss.csv, loss.png, and lora/pytorch_lora_weights.safetensors (LoRA) or transformer/ (full).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a world model on clips (LoRA or full; resumable)",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", type=Path, help="clip set from `dreamgen dataset export-clips` (or `wm sim-clips`)")
    p.add_argument("--recipe", required=True, metavar="NAME|FILE",
                   help=f"shipped recipe ({', '.join(recipe_names())}) or a YAML file")
    p.add_argument("--base", type=Path, default=None,
                   help="diffusers model directory of the base model (default: the recipe's tiny random-weight model, "
                        "at the recipe's tiny.video geometry)")
    p.add_argument("--out", type=Path, required=True, help="run directory (created, or resumed when it exists)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's train.steps)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available, else cpu")
    p.add_argument("--cache", type=Path, default=None, help="encoded-clip cache directory (default: RUN/cache)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of torch (default: one per core). On a machine other jobs keep busy, 1 can be "
                        "several times faster: each parallel step waits for its slowest thread")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.training.loop import LOSS_CSV, LOSS_PNG
    from dreamgen_core.worldmodel.run import FULL_DIR, LORA_FILE
    from dreamgen_core.worldmodel.train import train

    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise WorldModelError(f"--threads {args.threads}: must be at least 1")
        torch.set_num_threads(args.threads)
    outcome = train(args.clips, args.recipe, args.out, base=args.base, steps=args.steps, device=args.device,
                    cache=args.cache)
    meta, out = outcome.meta, args.out
    if not outcome.main_process:
        return 0
    for name, why in outcome.skipped:
        print(f"skipped clip {name}: {why}")
    if outcome.resumed_from == meta.steps_done:
        print(f"{out}: already finished ({meta.steps_done} steps); nothing to do")
        return 0
    start = f"resumed at step {outcome.resumed_from}" if outcome.resumed_from else "from the start"
    weights = out / (LORA_FILE if meta.mode == "lora" else FULL_DIR)
    print(f"{out}: trained {meta.backend} ({meta.mode}) on {outcome.clips_used} clips, {start}, to step {meta.steps_done}")
    print(f"wrote {weights} (sha256 {meta.weights_sha256}), {out / LOSS_CSV}, {out / LOSS_PNG}, {out / 'run.json'}")
    return 0
