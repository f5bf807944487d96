"""The world-model backend interface: a small adapter over one training loop and one dream loop.

A backend wraps one diffusers image-to-video model family (or the pixel-space CPU model) and knows
four things only it can know: how to build or load its modules, what a clip becomes before training
(`encode`: VAE latents, text embeddings, image conditioning — cached by the loop), the loss of its own
objective (`loss`), and how its stock pipeline generates a video from a first frame and an
instruction (`generate`). Everything else — data order, optimiser, checkpoints, resume, logs,
LoRA files, Ray fan-out, sidecars — lives once in `train.py`, `run.py` and `dream.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from dreamgen_core.worldmodel.recipe import Recipe

if TYPE_CHECKING:
    import torch


class Objective(str, Enum):
    FLOW_MATCHING = "flow-matching"    # Wan, Cosmos: x_t = (1 - t)·x0 + t·ε, the model predicts ε − x0
    V_PREDICTION = "v-prediction"      # CogVideoX: DDPM noising, the model predicts v
    RESIDUAL_X = "residual-x"          # pixel-wan (CPU): flow-matching noising, predicts clean frames as first frame + residual


@dataclass(frozen=True)
class Clip:
    """One training sample before encoding: frames (T, H, W, 3) uint8 at the recipe's size, and its caption."""

    frames: np.ndarray
    caption: str


class WorldModelBackend(ABC):
    """One image-to-video model family. Construct with a recipe, then `build` it; see the module doc."""

    objective: ClassVar[Objective]
    pipeline_class: ClassVar[str]          # the stock diffusers pipeline that loads the results, by name
    default_lora_targets: ClassVar[tuple[str, ...]]

    def __init__(self, recipe: Recipe, device: str = "cpu") -> None:
        self.recipe = recipe
        self.device = device

    # --- modules ---------------------------------------------------------------------------------
    @abstractmethod
    def build(self, base: Path | None) -> None:
        """Load the pipeline's modules from a diffusers directory, or build `recipe.tiny` with random weights (seeded)."""

    @abstractmethod
    def save_base(self, out: Path) -> None:
        """Write the whole (random-weight) pipeline as a diffusers directory, so a run of a tiny model is self-contained."""

    @abstractmethod
    def denoiser(self) -> torch.nn.Module:
        """The module that is trained (the diffusion transformer); LoRA adapters attach here."""

    def jointly_trained(self) -> dict[str, torch.nn.Module]:
        """Modules trained in full beside the denoiser in either mode, by name: a backend's own small text
        encoder (pixel-wan). Pretrained pipelines keep their encoders frozen and return none."""
        return {}

    # --- training --------------------------------------------------------------------------------
    @abstractmethod
    def encode(self, clip: Clip) -> dict[str, torch.Tensor]:
        """What training needs from a clip and never changes while training; the loop caches it under a content key."""

    @abstractmethod
    def encoder_fingerprint(self) -> str:
        """A hash of everything `encode` depends on besides the clip (VAE and text-encoder weights, geometry)."""

    @abstractmethod
    def loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        """The model's own training loss on a batch of encoded clips (stacked on dim 0); noise from `generator`."""

    # --- results ---------------------------------------------------------------------------------
    @abstractmethod
    def save_lora(self, out: Path) -> Path:
        """Write the trained LoRA in diffusers' format (safetensors, with rank and alpha); returns the file."""

    @abstractmethod
    def load_lora(self, path: Path) -> None:
        """Load a LoRA file through the stock pipeline's loader; an adapter matching no module is an error."""

    def save_full(self, out: Path) -> None:
        """Write the fully fine-tuned denoiser in diffusers' `save_pretrained` layout (safetensors)."""
        self.denoiser().save_pretrained(out, safe_serialization=True)  # type: ignore[operator]

    def load_full(self, directory: Path) -> None:
        """Load a denoiser written by `save_full` over the built one; every key must match."""
        from safetensors.torch import load_file

        state: dict[str, torch.Tensor] = {}
        for path in sorted(directory.glob("*.safetensors")):
            state.update(load_file(path))
        self.denoiser().load_state_dict(state, strict=True)

    @abstractmethod
    def generate(self, image: np.ndarray, prompt: str, *, seed: int, steps: int, guidance: float,
                 negative_prompt: str = "") -> np.ndarray:
        """A video (T, H, W, 3) uint8 at the recipe's geometry from a first frame (H, W, 3) uint8 and an instruction."""
