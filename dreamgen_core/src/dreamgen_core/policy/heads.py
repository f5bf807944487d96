"""Action heads (`config.head`, registry `config.HEADS`): context [B, C] (+ noise) → normalized chunk [B, H·D].

"flow" (default, as GR00T N1): flow matching from noise ε (t = 0) to the chunk a (t = 1) along
x_t = (1 − t)·ε + t·a. The network predicts the clean chunk â from (x_t, t, context) and the
velocity is (â − x_t) / (1 − t), the rectified-flow velocity written through its end point; trained
with the MSE of â, which behaves like regression from the first step, where a network regressing
the velocity a − ε must first learn to reproduce ε from x_t (on this robot's CPU budget it did not
get there in 400 steps). Sampling starts at the given noise and takes `steps` Euler steps of 1/steps
(t = 0 … 1 − 1/steps, never 1); the loop has a fixed length known at construction, so it is unrolled
into the traced graph and the exported ONNX holds the whole sampler (the runtime feeds the noise,
which makes runs reproducible from a seed).
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

    def clean(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """The network's estimate of the clean chunk from x_t."""
        angles = t * self.frequencies  # [B, 1] × [F] → [B, F]
        return self.net(torch.cat([x, context, torch.sin(angles), torch.cos(angles)], dim=-1))

    def forward(self, context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = noise
        dt = 1.0 / self.steps
        ones = torch.ones_like(noise[:, :1])
        for k in range(self.steps):  # fixed length: unrolled when traced
            t = k * dt
            x = x + dt * (self.clean(x, ones * t, context) - x) / (1.0 - t)
        return x

    def loss(self, context: torch.Tensor, target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(target.shape, generator=generator, device=target.device, dtype=target.dtype)
        t = torch.rand((target.shape[0], 1), generator=generator, device=target.device, dtype=target.dtype)
        x_t = (1 - t) * noise + t * target
        return torch.mean((self.clean(x_t, t, context) - target) ** 2)
