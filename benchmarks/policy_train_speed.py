"""How fast does `dreamgen policy train` train (samples/s), and where does the time go?

Side by side, in one process, on one dataset (a synthetic GR1 dataset of random frames and joint
walks written by DatasetWriter, or DATASET... given), for the default config (64x64, hidden 256,
batch 32, flow head) and the CPU test config (32x32, hidden 128, batch 16):
  batches   assembling batches alone: each sample through `prepare` from the decoded, kept frames -> samples/s
  step      the optimiser step alone on assembled batches: loss, backward, clipping, AdamW      -> samples/s
  loop      `train_policy`'s steps as its loss.csv times them (batches + step + the loss row)   -> samples/s
and prints loop/step (what batch assembly and the loop cost on top of the network). Decoding the
episodes (once per run) and checkpoint writes are outside every timing; the whole call is printed
beside it. Print the load average with the numbers: on a shared machine they move with it.

    .venv/bin/python benchmarks/policy_train_speed.py [--steps 30] [--threads 1] [DATASET ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dreamgen_core.dataset import DatasetWriter, EpisodeData
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.policy.checkpoint import build_model
from dreamgen_core.policy.config import PolicyConfig, with_overrides
from dreamgen_core.policy.data import TrainingData, load_training_data
from dreamgen_core.policy.text import load_text_encoder
from dreamgen_core.policy.train import train_policy
from dreamgen_core.training.losslog import read_loss_csv

CONFIGS = {"default (64 px, hidden 256, batch 32)": {},
           "CPU test (32 px, hidden 128, batch 16)": {"image_size": 32, "hidden": 128, "train.batch_size": 16}}


def synthetic_dataset(root: Path, episodes: int = 6, length: int = 120) -> Path:
    spec = load_embodiment("gr1")
    camera = next(iter(spec.cameras))
    rng = np.random.default_rng(0)
    with DatasetWriter(root, spec) as writer:
        for e in range(episodes):
            state = np.cumsum(rng.normal(0, 0.01, size=(length, spec.dim)), axis=0).astype(np.float32)
            frames = rng.integers(0, 256, size=(length, 200, 320, 3), dtype=np.uint8)
            writer.add(EpisodeData(state, np.roll(state, -1, axis=0), {camera: iter(frames)}, "push the red cube",
                                   f"bench-{e}", True, {"origin": "real"}))
    return root


def batches_per_s(data: TrainingData, config: PolicyConfig, steps: int) -> float:
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for _ in range(steps):
        for item in rng.integers(len(data.items), size=config.train.batch_size):
            data.sample(int(item))
    return steps * config.train.batch_size / (time.perf_counter() - began)


def step_per_s(data: TrainingData, config: PolicyConfig, steps: int) -> float:
    text = load_text_encoder(config.text)
    model = build_model(config, data.norm, config.text).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.learning_rate)
    b, g = config.train.batch_size, torch.Generator().manual_seed(0)
    picks = [data.sample(i) for i in range(b)]
    batch = [torch.from_numpy(np.stack(x)) for x in ([p[0].image for p in picks], [p[0].state for p in picks],
                                                    [p[0].state_mask for p in picks], [text.embed(p[2]) for p in picks],
                                                    [p[1] for p in picks])]
    for s in range(steps + 1):
        if s == 1:  # step 0 warms up, untimed
            began = time.perf_counter()
        loss = model.loss(*batch, g)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps * b / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path, nargs="*", metavar="DATASET")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"threads {torch.get_num_threads()}, {args.steps} timed steps, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        datasets = args.datasets or [synthetic_dataset(Path(tmp) / "synthetic")]
        for label, overrides in CONFIGS.items():
            config = with_overrides(PolicyConfig(), {**overrides, "train.steps": args.steps + 1,
                                                     "train.checkpoint_every": args.steps + 1})
            data = load_training_data(datasets, config.image_size, config.horizon)
            assembled, stepped = batches_per_s(data, config, args.steps), step_per_s(data, config, args.steps)
            began = time.perf_counter()
            out = Path(tmp) / f"run{len(label)}"
            train_policy(datasets, out, config, device="cpu")
            total = time.perf_counter() - began
            rows = read_loss_csv(out / "loss.csv")
            loop = args.steps * config.train.batch_size / (rows[-1][3] - rows[0][3])  # step 1 warms up
            print(f"{label}:")
            print(f"  batches {assembled:8.1f} samples/s   step {stepped:7.1f} samples/s   loop {loop:7.1f} samples/s   "
                  f"loop/step {loop / stepped:.2f}   (whole call incl. decoding and saving {total:.1f} s)")
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
