"""Vision encoders of the policy (`config.encoder`, registry `config.VISION_ENCODERS`).

"cnn": four stride-2 convolutions and a linear layer over the flattened feature map. Flattening
(rather than global pooling) keeps where things are in the image, which is what a push needs: the
cube's and the target's positions. Small enough to train on a CPU at 64×64.

"vit": the IDM's tiny ViT (`idm.encoders.vit`, built from config, no pretrained weights), its tokens
mean-pooled (each token carries its learned position) and projected. Exports to ONNX like the CNN.
Pretrained towers (the IDM's SigLIP) are not offered here: the policy checkpoint must rebuild its
network on the robot without the tower's original directory.
"""

from __future__ import annotations

import torch
from torch import nn

CHANNELS = (32, 64, 128, 128)
GROUPS = 8  # GroupNorm: the same in training and inference, unlike BatchNorm, and exports to ONNX


class CnnEncoder(nn.Module):
    """uint8-derived images [N, 3, S, S] in [0, 1] → features [N, out_dim]; S a multiple of 16."""

    def __init__(self, image_size: int, out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3
        for i, channels in enumerate(CHANNELS):
            kernel = 5 if i == 0 else 3
            layers += [nn.Conv2d(previous, channels, kernel, stride=2, padding=kernel // 2),
                       nn.GroupNorm(GROUPS, channels), nn.ReLU()]
            previous = channels
        self.features = nn.Sequential(*layers)
        side = image_size // 2 ** len(CHANNELS)
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(previous * side * side, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # Centre the [0, 1] pixels: the convolutions see zero-mean inputs without dataset statistics.
        return self.project(self.features(image * 2 - 1))


class VitEncoder(nn.Module):
    """The IDM's tiny ViT at its default options (patch 8, width 128, depth 4): tokens → mean → [N, out_dim]."""

    def __init__(self, image_size: int, out_dim: int) -> None:
        super().__init__()
        from dreamgen_core.idm.encoders.vit import VitEncoder as IdmVit

        self.tokens = IdmVit(IdmVit.Options(), (image_size, image_size))
        self.project = nn.Sequential(nn.Linear(self.tokens.out_dim, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.project(self.tokens(image).mean(dim=1))
