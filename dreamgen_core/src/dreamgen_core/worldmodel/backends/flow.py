"""Flow-matching training noise shared by the Wan and Cosmos backends.

x_t = (1 − t)·x0 + t·ε, the model predicts the velocity ε − x0. Training times are uniform and
then shifted the way the model's scheduler shifts its sampling sigmas (shift·u / (1 + (shift − 1)·u)),
so training spends its steps where sampling does.
"""

from __future__ import annotations

import torch


def scheduler_shift(config: object) -> float:
    """The sigma shift of a flow-matching scheduler config (FlowMatchEuler: `shift`, UniPC: `flow_shift`)."""
    get = getattr(config, "get", None)
    for key in ("shift", "flow_shift"):
        value = get(key) if get else None
        if value:
            return float(value)
    return 1.0


def sample_times(batch: int, shift: float, generator: torch.Generator) -> torch.Tensor:
    """Flow times t in (0, 1), one per sample, drawn from `generator` (float32, on its device)."""
    u = torch.rand(batch, generator=generator, device=generator.device)
    return shift * u / (1 + (shift - 1) * u)


def noise_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise shaped like x, drawn on the generator's device and moved to x's."""
    return torch.randn(x.shape, generator=generator, device=generator.device).to(x.device, x.dtype)


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 − t)·x0 + t·ε with t per sample (B,) broadcast over the remaining dims."""
    t = t.to(x0.device, x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return (1 - t) * x0 + t * noise


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the elements where `mask` (broadcastable, 0/1) is 1."""
    weight = mask.to(prediction.dtype).expand_as(prediction)
    return ((prediction.float() - target.float()) ** 2 * weight).sum() / weight.sum().clamp_min(1)
