"""`dreamgen policy train DATASET... --mix real=1,dream=1 --out CKPT`: co-train the policy on demos and labelled dreams."""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamgen_core.policy.errors import PolicyError

EPILOG = """\
examples:
  dreamgen policy train demos/ --out runs/policy                           real demos only
  dreamgen policy train demos/ dreams_labelled/ --mix real=1,dream=1 --out runs/policy   co-training 1:1 (the paper's)
  dreamgen policy train demos/ dreams_labelled/ --mix real=1,dream=3 --out runs/p --steps 5000 --threads 1
  dreamgen policy train demos/ --config my_policy.yaml --head regression --out runs/reg
  dreamgen policy train demos/ --text-encoder hf --text-path /models/t5-small --out runs/t5

DATASET: GR00T-LeRobot datasets of one embodiment. A dataset of IDM-labelled dreams (`dreamgen idm
label`: provenance origin "dreamed", tasks "<DREAM> ...") is a dream dataset: its state is masked and
the prefix left out of the instruction. --mix weighs the kinds (default: 1 for each kind given);
normalization comes from the real datasets, and dream actions outside their range are clipped.

The same command again resumes a killed run from its newest checkpoint (OUT/checkpoints/) with exactly
the result of an uninterrupted run; a larger --steps extends a finished one.

writes: OUT/run.json, checkpoints/, loss.csv, loss.png, and at the end model.safetensors + policy_config.yaml
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="co-train the policy on real + dreamed datasets (resumable)",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", type=Path, nargs="+", metavar="DATASET", help="GR00T-LeRobot datasets (demos, labelled dreams)")
    p.add_argument("--out", type=Path, required=True, help="run directory = checkpoint (created, or resumed when it exists)")
    p.add_argument("--mix", default=None, metavar="KIND=W,...",
                   help="weights of the kinds of data, e.g. real=1,dream=1 (default: 1 for each kind given)")
    p.add_argument("--config", type=Path, default=None, help="policy config YAML (default: the built-in defaults)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the config's train.steps)")
    p.add_argument("--batch-size", type=int, default=None, help="samples per step (default: the config's)")
    p.add_argument("--seed", type=int, default=None, help="seed of weights, batches and noise (default: the config's)")
    p.add_argument("--encoder", choices=("cnn", "vit"), default=None, help="vision encoder (default: the config's, cnn)")
    p.add_argument("--head", choices=("flow", "regression"), default=None, help="action head (default: the config's, flow)")
    p.add_argument("--text-encoder", choices=("hashed", "hf"), default=None, help="instruction encoder (default: hashed)")
    p.add_argument("--text-path", default=None, help="local transformers model directory for --text-encoder hf")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available, else cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of torch (default: one per core; 1 is often faster on a busy machine)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.policy.config import load_policy_config, with_overrides
    from dreamgen_core.policy.sampler import parse_mix
    from dreamgen_core.policy.train import LOSS_CSV, LOSS_PNG, train_policy
    from dreamgen_core.training.devices import set_threads

    set_threads(args.threads, PolicyError)
    config = with_overrides(load_policy_config(args.config), {
        "train.steps": args.steps, "train.batch_size": args.batch_size, "train.seed": args.seed, "head": args.head,
        "encoder": args.encoder, "text.name": args.text_encoder, "text.path": args.text_path})
    if args.steps is not None:
        config = with_overrides(config, {"train.checkpoint_every": min(config.train.checkpoint_every, args.steps)})
    mix = None if args.mix is None else parse_mix(args.mix)
    outcome = train_policy(args.datasets, args.out, config, mix, device=args.device)
    if not outcome.main_process:
        return 0
    for source in outcome.sources:
        clipped = f", {source['clipped_actions']} action values clipped to the real range" if source["clipped_actions"] else ""
        print(f"{source['kind']:5s} {source['path']}: {source['episodes']} episodes, {source['samples']} samples{clipped}")
    share = ", ".join(f"{k} {w / sum(outcome.weights.values()):.0%}" for k, w in outcome.weights.items())
    state, out = outcome.state, args.out
    if outcome.resumed_from == state.steps_done:
        print(f"{out}: already finished ({state.steps_done} steps); nothing to do")
        return 0
    start = f"resumed at step {outcome.resumed_from}" if outcome.resumed_from else "from the start"
    print(f"{out}: trained the policy ({config.head} head) on {share} of each batch, {start}, to step {state.steps_done}")
    print(f"wrote {out / 'model.safetensors'} (sha256 {state.weights_sha256}), {out / 'policy_config.yaml'}, "
          f"{out / LOSS_CSV}, {out / LOSS_PNG}")
    return 0
