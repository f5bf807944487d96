"""SigLIP / SigLIP2 (fixed-resolution) vision towers through transformers, from a LOCAL directory.

The reference IDM's encoder. Weights come only from `encoder_path` (a directory written by
`save_pretrained`, e.g. google/siglip2-base-patch16-224 downloaded beforehand): nothing is fetched.
Frames are resized to the tower's image_size and scaled to [-1, 1] (SigLIP's mean = std = 0.5).
The token grid is pixel-unshuffled by `unshuffle` (the reference's 2x2 projector: 4x fewer, wider
tokens). SigLIP2's NaFlex variant (variable resolution, model_type siglip2) is not supported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dreamgen_core.idm.errors import IdmError

SUPPORTED = ("siglip", "siglip_vision_model")


@dataclass(frozen=True)
class SiglipOptions:
    unshuffle: int = 2      # pixel-unshuffle factor of the token grid
    freeze: bool = False    # train only what follows the tower


class SiglipEncoder(nn.Module):
    Options = SiglipOptions

    def __init__(self, options: SiglipOptions, image_hw: tuple[int, int], path: str | None = None) -> None:
        super().__init__()
        directory = Path(path) if path else None
        if directory is None or not (directory / "config.json").is_file():
            raise IdmError(f"encoder_path {path}: not a local SigLIP model directory (no config.json); "
                           "download one beforehand and pass its directory (nothing is fetched from a hub)")
        model_type = json.loads((directory / "config.json").read_text(encoding="utf-8")).get("model_type")
        if model_type not in SUPPORTED:
            raise IdmError(f"{directory / 'config.json'}: model_type {model_type!r}: the siglip encoder reads "
                           f"{', '.join(SUPPORTED)} (SigLIP and fixed-resolution SigLIP2 checkpoints)")
        from transformers import SiglipVisionModel

        self.tower = SiglipVisionModel.from_pretrained(str(directory), local_files_only=True)
        if getattr(self.tower, "use_head", False):  # the attention-pooling head: the IDM reads the tokens, not a pooled vector
            self.tower.use_head = False
            del self.tower.head
        config = self.tower.config
        self.image_size, patch = int(config.image_size), int(config.patch_size)  # type: ignore[arg-type]  # ints in SigLIP
        grid = self.image_size // patch
        if grid % options.unshuffle:
            raise IdmError(f"{directory}: a {grid}x{grid} token grid does not unshuffle by {options.unshuffle}")
        self.grid, self.unshuffle = grid, options.unshuffle
        self.num_tokens = (grid // options.unshuffle) ** 2
        self.out_dim = config.hidden_size * options.unshuffle ** 2
        if options.freeze:
            self.tower.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        tokens = self.tower(pixel_values=pixels * 2.0 - 1.0).last_hidden_state  # [B, grid², hidden]
        b, _, c = tokens.shape
        grid = tokens.transpose(1, 2).reshape(b, c, self.grid, self.grid)
        return F.pixel_unshuffle(grid, self.unshuffle).flatten(2).transpose(1, 2)
