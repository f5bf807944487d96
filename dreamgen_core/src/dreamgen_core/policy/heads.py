"""Action heads (`config.head`, registry `config.HEADS`): context [B, C] (+ noise) → normalized chunk [B, H·D].

"flow" (default, as GR00T N1): flow matching. Training draws t ~ U(0, 1) and noise ε, forms
x_t = (1 − t)·ε + t·a and regresses the velocity a − ε. Sampling starts at the given noise and
takes `steps` Euler steps of 1/steps; the loop has a fixed length known at construction, so it is
unrolled into the traced graph and the exported ONNX holds the whole sampler (the runtime feeds
the noise, which makes runs reproducible from a seed).
"regression": an MLP straight to the chunk, trained with MSE; it ignores the noise.
"""

from __future__ import annotations

import math

import torch
from torch import nn

TIME_FEATURES = 32


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, outputs))


class RegressionHead(nn.Module):
    def __init__(self, context: int, size: int, hidden: int, steps: int) -> None:
        super().__init__()
        self.net = mlp(context, 2 * hidden, size)

    def forward(self, context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.net(context)

    def loss(self, context: torch.Tensor, target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.mean((self.net(context) - target) ** 2)


class FlowHead(nn.Module):
    frequencies: torch.Tensor

    def __init__(self, context: int, size: int, hidden: int, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.net = mlp(size + context + TIME_FEATURES, 2 * hidden, size)
        # Sinusoidal features of t at geometric frequencies 1 … 100 (cycles over [0, 1]).
        frequencies = torch.exp(torch.linspace(0.0, math.log(100.0), TIME_FEATURES // 2)) * 2 * math.pi
        self.register_buffer("frequencies", frequencies, persistent=False)

    def velocity(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        angles = t * self.frequencies  # [B, 1] × [F] → [B, F]
        return self.net(torch.cat([x, context, torch.sin(angles), torch.cos(angles)], dim=-1))

    def forward(self, context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = noise
        dt = 1.0 / self.steps
        ones = torch.ones_like(noise[:, :1])
        for k in range(self.steps):  # fixed length: unrolled when traced
            x = x + dt * self.velocity(x, ones * (k * dt), context)
        return x

    def loss(self, context: torch.Tensor, target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(target.shape, generator=generator, device=target.device, dtype=target.dtype)
        t = torch.rand((target.shape[0], 1), generator=generator, device=target.device, dtype=target.dtype)
        x_t = (1 - t) * noise + t * target
        return torch.mean((self.velocity(x_t, t, context) - (target - noise)) ** 2)
