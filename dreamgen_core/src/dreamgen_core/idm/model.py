"""The IDM network: both frames through one encoder, their tokens (and their difference) fused by
self-attention with learned readout tokens, which condition the action head.

    first, second: float [B, 3, H, W] in [0, 1]  →  normalized action chunk [B, horizon, A]

A counts the action dimensions that vary in the training data (`ActionStats.active`); the others
are constant and are filled in by the caller (`checkpoint.Idm`), not modelled.

The difference stream gives the fusion layers the motion between the frames directly; positions
are learned per token, so where the arm is in the image (its pose) is visible to the readouts.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dreamgen_core.config import build
from dreamgen_core.idm.config import ENCODERS, HEADS, IdmConfig


def image_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 [B, H, W, 3] (from `view.prepare_frames`) → float [B, 3, H, W] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float() / 255.0


class IdmNet(nn.Module):
    def __init__(self, config: IdmConfig, active_dims: int) -> None:
        super().__init__()
        src = config.source
        encoder_cls = ENCODERS.load(config.encoder, src, "encoder")
        self.encoder = encoder_cls(build(encoder_cls.Options, config.encoder_options, src, "encoder_options"),
                                   tuple(config.image_hw), config.encoder_path)
        width = config.width
        self.project = nn.Linear(self.encoder.out_dim, width)
        self.position = nn.Parameter(torch.randn(1, self.encoder.num_tokens, width) * 0.02)
        self.streams = nn.Parameter(torch.randn(3, width) * 0.02)  # first frame, second frame, difference
        self.readouts = nn.Parameter(torch.randn(1, config.readouts, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, config.fusion_heads, width * 2, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.fusion = nn.TransformerEncoder(layer, config.fusion_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        head_cls = HEADS.load(config.head, src, "head")
        self.head = head_cls(build(head_cls.Options, config.head_options, src, "head_options"),
                             width * config.readouts, config.horizon, active_dims)

    def condition(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        tokens = self.project(self.encoder(torch.cat([first, second]))) + self.position
        a, b = tokens.chunk(2)
        r = self.readouts.expand(a.shape[0], -1, -1)
        x = torch.cat([r, a + self.streams[0], b + self.streams[1], (b - a) + self.streams[2]], dim=1)
        x = self.norm(self.fusion(x))
        return x[:, : r.shape[1]].flatten(1)

    def loss(self, first: torch.Tensor, second: torch.Tensor, actions: torch.Tensor,
             noise: torch.Generator) -> torch.Tensor:
        return self.head.loss(self.condition(first, second), actions, noise)

    @torch.no_grad()
    def sample(self, first: torch.Tensor, second: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        return self.head.sample(self.condition(first, second), noise)
