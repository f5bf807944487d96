"""The residual MLP both action heads are built from."""

from __future__ import annotations

import torch
from torch import nn


class ResidualMlp(nn.Module):
    """in_dim → hidden → `layers` pre-norm residual blocks → out_dim (output layer starts at zero: a
    fresh head predicts the mean, which keeps early losses small)."""

    def __init__(self, in_dim: int, hidden: int, layers: int, out_dim: int) -> None:
        super().__init__()
        self.inp = nn.Linear(in_dim, hidden)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden * 2), nn.GELU(),
                                                  nn.Linear(hidden * 2, hidden)) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, out_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        for block in self.blocks:
            x = x + block(x)
        return self.out(self.norm(x))
