"""The optimisation settings every small trainer's config carries under `train:` (policy; the IDM's are the same)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 1500
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    max_grad_norm: float = 1.0
    checkpoint_every: int = 250
    seed: int = 0
    mixed_precision: Literal["no", "bf16", "fp16"] = "bf16"  # applies on GPU; CPU trains in fp32
