"""A small convolutional encoder for the CPU: a patchify stem, stride-2 stages, the last feature map's cells as tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dreamgen_core.idm.errors import IdmError


@dataclass(frozen=True)
class CnnOptions:
    stem: int = 4                             # first stage: a stem x stem patchify convolution, stride stem
    channels: tuple[int, ...] = (32, 64, 64)  # the stem's, then one stride-2 3x3 stage each: 64 → 16 → 8 → 4


class CnnEncoder(nn.Module):
    Options = CnnOptions

    def __init__(self, options: CnnOptions, image_hw: tuple[int, int], path: str | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3
        if options.stem < 1 or not options.channels or image_hw[0] % options.stem or image_hw[1] % options.stem:
            raise IdmError(f"cnn encoder: image_hw {list(image_hw)} must divide by encoder_options.stem {options.stem}, "
                           "and channels must name at least the stem's")
        h, w = image_hw[0] // options.stem, image_hw[1] // options.stem
        for i, channels in enumerate(options.channels):
            # GroupNorm, not BatchNorm: no running statistics, so a resumed run and inference see the same net.
            conv = (nn.Conv2d(previous, channels, options.stem, stride=options.stem) if i == 0
                    else nn.Conv2d(previous, channels, 3, stride=2, padding=1))
            layers += [conv, nn.GroupNorm(8 if channels % 8 == 0 else 1, channels), nn.GELU()]
            previous = channels
            if i:
                h, w = (h + 1) // 2, (w + 1) // 2
        self.net = nn.Sequential(*layers)
        self.out_dim = previous
        self.num_tokens = h * w

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2.0 - 1.0).flatten(2).transpose(1, 2)
