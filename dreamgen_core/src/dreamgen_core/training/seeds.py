"""Seeds and batches a resumed run draws exactly as an uninterrupted one: functions of (seed, step), no state."""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed for one purpose at one step, e.g. derive_seed(seed, "noise", step, rank)."""
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") & ((1 << 63) - 1)


def batch_indices(count: int, batch_size: int, seed: int, step: int) -> list[int]:
    """Items of step `step` (0-based): positions step·B … step·B + B − 1 of a stream of seeded epoch shuffles."""
    picks = []
    orders: dict[int, torch.Tensor] = {}
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, count)
        if epoch not in orders:  # one shuffle per epoch, not per item: IDM datasets hold thousands of samples
            orders[epoch] = torch.randperm(count, generator=torch.Generator().manual_seed(derive_seed(seed, "epoch", epoch)))
        picks.append(int(orders[epoch][offset]))
    return picks
