"""PolicyNet: model-view image(s) + state + instruction embedding (+ noise) → a normalized action chunk.

    net = PolicyNet(config, dim=44, num_cameras=1, text_dim=128)
    actions = net(image, state, state_mask, text, noise)     # [B, H, D] in [-1, 1]

Inputs are what `preprocess.prepare` makes (stacked over a batch) plus the text embedding and noise
[B, H, D] ~ N(0, 1). The vision encoder (shared by the cameras), the masked state and the text are
each projected to `config.hidden`, fused by an MLP into one context, and the head turns it into
the chunk (`heads.py`). The state enters multiplied by its mask, next to the mask itself, so a
dream sample (mask 0) contributes no state at all.

Export: forward has no data-dependent Python control flow and only shape-static reshapes (the
batch is the one free dimension), so `torch.onnx.export` with a dynamic batch traces it whole,
the flow head's Euler loop included. Output is clamped to [-1, 1], the range of the training actions.
"""

from __future__ import annotations

import torch
from torch import nn

from dreamgen_core.policy.config import HEADS, VISION_ENCODERS, PolicyConfig
from dreamgen_core.policy.heads import mlp


class PolicyNet(nn.Module):
    def __init__(self, config: PolicyConfig, dim: int, num_cameras: int, text_dim: int) -> None:
        super().__init__()
        self.config, self.dim, self.num_cameras, self.text_dim = config, dim, num_cameras, text_dim
        self.horizon, self.image_size, hidden = config.horizon, config.image_size, config.hidden
        self.encoder = VISION_ENCODERS.load(config.encoder, config.source, "encoder")(config.image_size, hidden)
        self.state_proj = nn.Linear(dim + 1, hidden)
        self.text_proj = nn.Linear(text_dim, hidden)
        self.fuse = mlp(hidden * (num_cameras + 2), hidden, hidden)
        self.head = HEADS.load(config.head, config.source, "head")(hidden, self.horizon * dim, hidden, config.flow_steps)

    def context(self, image: torch.Tensor, state: torch.Tensor, state_mask: torch.Tensor,
                text: torch.Tensor) -> torch.Tensor:
        """[B, hidden]: what the head conditions on."""
        s = self.image_size
        seen = self.encoder(image.reshape(-1, 3, s, s)).reshape(-1, self.num_cameras * self.encoder.out_dim)
        body = self.state_proj(torch.cat([state * state_mask, state_mask], dim=-1))
        return self.fuse(torch.cat([torch.relu(seen), torch.relu(body), torch.relu(self.text_proj(text))], dim=-1))

    def forward(self, image: torch.Tensor, state: torch.Tensor, state_mask: torch.Tensor, text: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
        chunk = self.head(self.context(image, state, state_mask, text), noise.reshape(-1, self.horizon * self.dim))
        return torch.clamp(chunk, -1.0, 1.0).reshape(-1, self.horizon, self.dim)

    def loss(self, image: torch.Tensor, state: torch.Tensor, state_mask: torch.Tensor, text: torch.Tensor,
             actions: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Training loss on normalized actions [B, H, D]; the flow head draws its t and noise from `generator`."""
        context = self.context(image, state, state_mask, text)
        return self.head.loss(context, actions.reshape(-1, self.horizon * self.dim), generator)
