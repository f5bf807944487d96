"""How fast does the IDM train on the CPU: samples/s of the training step, cnn vs vit encoder, flow vs regression head?

Each row is the bare step `dreamgen idm train` repeats (`IdmNet.loss` on a batch, backward, gradient
clipping, AdamW) on synthetic 64x64 frame pairs and 16x7 action chunks (the GR1 sim's 7 moving arm
joints), with the CPU defaults of `IdmConfig` but the encoder and head named. The first steps
(allocation, warm-up) are left out of every timing. Printed beside the load average: on a shared
machine the numbers move with it.

    .venv/bin/python benchmarks/idm_train_speed.py [--steps 20] [--batch-size 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from dreamgen_core.idm.config import load_config
from dreamgen_core.idm.model import IdmNet, image_tensor

ACTIVE_DIMS = 7  # the GR1 sim's right arm
WARMUP = 3


def samples_per_second(encoder: str, head: str, steps: int, batch: int) -> tuple[float, int]:
    torch.manual_seed(0)
    config = load_config(None, {"encoder": encoder, "head": head})
    net = IdmNet(config, ACTIVE_DIMS)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.train.learning_rate)
    rng = np.random.default_rng(0)
    first = image_tensor(rng.integers(0, 256, (batch, *config.image_hw, 3), dtype=np.uint8))
    second = image_tensor(rng.integers(0, 256, (batch, *config.image_hw, 3), dtype=np.uint8))
    actions = torch.rand(batch, config.horizon, ACTIVE_DIMS) * 2 - 1
    began = 0.0
    for step in range(WARMUP + steps):
        if step == WARMUP:
            began = time.perf_counter()
        loss = net.loss(first, second, actions, torch.Generator().manual_seed(step))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), config.train.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps * batch / (time.perf_counter() - began), sum(p.numel() for p in net.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; torch threads {args.threads}; "
          f"batch {args.batch_size}, {args.steps} timed steps")
    print(f"{'encoder':<8} {'head':<11} {'params':>9} {'samples/s':>10}")
    for encoder in ("cnn", "vit"):
        for head in ("regression", "flow"):
            rate, params = samples_per_second(encoder, head, args.steps, args.batch_size)
            print(f"{encoder:<8} {head:<11} {params:>9} {rate:>10.1f}")


if __name__ == "__main__":
    main()
