"""Regression action head: the chunk straight from the condition, mean squared error (the flow head's baseline)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dreamgen_core.idm.heads.mlp import ResidualMlp


@dataclass(frozen=True)
class RegressionOptions:
    hidden: int = 256
    layers: int = 2


class RegressionHead(nn.Module):
    Options = RegressionOptions

    def __init__(self, options: RegressionOptions, cond_dim: int, horizon: int, dim: int) -> None:
        super().__init__()
        self.horizon, self.dim = horizon, dim
        self.net = ResidualMlp(cond_dim, options.hidden, options.layers, horizon * dim)

    def loss(self, cond: torch.Tensor, actions: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        return torch.mean((self.sample(cond, noise) - actions) ** 2)

    def sample(self, cond: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        return self.net(cond).view(-1, self.horizon, self.dim)
