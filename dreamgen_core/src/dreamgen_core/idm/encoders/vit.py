"""A tiny ViT built from config (no pretrained weights): patch embedding, learned positions, pre-norm blocks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dreamgen_core.idm.errors import IdmError


@dataclass(frozen=True)
class VitOptions:
    patch: int = 8
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0


class VitEncoder(nn.Module):
    Options = VitOptions

    def __init__(self, options: VitOptions, image_hw: tuple[int, int], path: str | None = None) -> None:
        super().__init__()
        h, w = image_hw
        if h % options.patch or w % options.patch or options.dim % options.heads:
            raise IdmError(f"vit encoder: image_hw {list(image_hw)} must divide into patches of {options.patch} "
                           f"and encoder_options.dim {options.dim} into {options.heads} heads")
        self.embed = nn.Conv2d(3, options.dim, options.patch, stride=options.patch)
        self.num_tokens = (h // options.patch) * (w // options.patch)
        self.position = nn.Parameter(torch.randn(1, self.num_tokens, options.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(options.dim, options.heads, int(options.dim * options.mlp_ratio), dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, options.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(options.dim)
        self.out_dim = options.dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(images * 2.0 - 1.0).flatten(2).transpose(1, 2) + self.position
        return self.norm(self.blocks(tokens))
