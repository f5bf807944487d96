"""Flow-matching action head (DreamGen's IDM, contract §5).

Training: tau ~ Beta(alpha, 1) (alpha 1.5), x_tau = (1 − tau)·eps + tau·a, the network predicts
the velocity a − eps. Inference: from eps at tau = 0, `steps` Euler steps (16) to tau = 1. Every
random number comes from the caller's generator, so a chunk is a function of (frames, seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from dreamgen_core.idm.heads.mlp import ResidualMlp

TIME_FEATURES = 64


@dataclass(frozen=True)
class FlowOptions:
    hidden: int = 256
    layers: int = 3
    steps: int = 16          # Euler steps at inference
    beta_alpha: float = 1.5  # tau ~ Beta(beta_alpha, 1)


def time_features(tau: torch.Tensor) -> torch.Tensor:
    """Sinusoidal features of tau in [0, 1]: [B] → [B, TIME_FEATURES]."""
    half = TIME_FEATURES // 2
    freqs = torch.exp(torch.arange(half, device=tau.device, dtype=torch.float32) * (-math.log(1000.0) / half))
    angles = tau.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class FlowHead(nn.Module):
    Options = FlowOptions

    def __init__(self, options: FlowOptions, cond_dim: int, horizon: int, dim: int) -> None:
        super().__init__()
        self.options, self.horizon, self.dim = options, horizon, dim
        self.net = ResidualMlp(horizon * dim + cond_dim + TIME_FEATURES, options.hidden, options.layers, horizon * dim)

    def velocity(self, x: torch.Tensor, tau: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        flat = torch.cat([x.flatten(1), cond, time_features(tau).to(cond.dtype)], dim=1)
        return self.net(flat).view(-1, self.horizon, self.dim)

    def loss(self, cond: torch.Tensor, actions: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        b = actions.shape[0]
        # Beta(alpha, 1) by inversion (its CDF is x^alpha): torch's Beta sampler takes no generator.
        u = torch.rand(b, generator=noise, device=actions.device)
        tau = u.pow(1.0 / self.options.beta_alpha)
        eps = torch.randn(actions.shape, generator=noise, device=actions.device, dtype=actions.dtype)
        t = tau[:, None, None].to(actions.dtype)
        x = (1 - t) * eps + t * actions
        return torch.mean((self.velocity(x, tau, cond) - (actions - eps)) ** 2)

    def sample(self, cond: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        b, steps = cond.shape[0], self.options.steps
        x = torch.randn((b, self.horizon, self.dim), generator=noise, device=cond.device, dtype=cond.dtype)
        for i in range(steps):
            tau = torch.full((b,), i / steps, device=cond.device)
            x = x + self.velocity(x, tau, cond) / steps
        return x
