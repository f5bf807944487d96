"""pixel-wan: the CPU-sized world model — diffusers' WanTransformer3DModel in pixel space, no VAE.

The model CPU_WORLD_MODEL.md measured on a 2-core machine: 8×8 pixel patches, 7 input channels
(the noisy clip 3 + the clean first frame broadcast over time 3 + a first-frame mask 1), 3 output
channels. Noising is flow matching, x_t = (1 − t)·x0 + t·ε with frame 0 kept clean, but the model
predicts the clean clip as first frame + residual, and its output layer starts at zero: the untrained
model copies the first frame, and training only has to learn what moves. (Wan's usual velocity
target gave coloured noise at this budget.) Sampling is Euler over 16 steps from t = 1 to 0.

Instructions condition it through a small text encoder of its own, trained jointly: words → hashed
ids (blake2b, deterministic, no tokenizer files, no hub) → a learned embedding table plus a learned
position per token → `encoder_hidden_states` of width text_dim. Unseen instructions made of known
words (a cube colour with a target colour never demonstrated together) therefore still condition it.

Sizes come from `recipe.tiny`: WanTransformer3DModel's keyword arguments plus `vocab_size` and
`max_tokens` of the text encoder. A base directory holds `transformer/` (diffusers save_pretrained)
and `text_encoder/` (config.json + model.safetensors).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from dreamgen_core.config import ConfigError
from dreamgen_core.worldmodel.backend import Clip, Objective, WorldModelBackend
from dreamgen_core.worldmodel.backends import lora_files
from dreamgen_core.worldmodel.clipset import to_geometry
from dreamgen_core.worldmodel.errors import WorldModelError

TEXT_DIR = "text_encoder"
TEXT_WEIGHTS = "model.safetensors"
TEXT_CONFIG = "config.json"
TEXT_DEFAULTS = {"vocab_size": 1024, "max_tokens": 16}
FIXED = {"in_channels": 7, "out_channels": 3}  # noisy clip + first frame + mask in, clip residual out
TOKENIZER = "words-blake2b-v1"


class HashedTextEncoder(nn.Module):
    """Words → hashed ids → embeddings + positions: (B, max_tokens) int64 → (B, max_tokens, dim). Id 0 pads."""

    def __init__(self, vocab_size: int, max_tokens: int, dim: int) -> None:
        super().__init__()
        if vocab_size < 2 or max_tokens < 1:
            raise ValueError(f"text encoder: vocab_size {vocab_size} must be ≥ 2 and max_tokens {max_tokens} ≥ 1")
        self.vocab_size, self.max_tokens, self.dim = vocab_size, max_tokens, dim
        self.words = nn.Embedding(vocab_size, dim)
        self.positions = nn.Parameter(torch.randn(max_tokens, dim) * 0.02)

    def tokenize(self, text: str) -> torch.Tensor:
        words = re.findall(r"[a-z0-9]+", text.lower())
        # The instruction ends the caption (after a fixed prefix): when too long, keep its end.
        words = words[-self.max_tokens:]
        ids = [1 + int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little") % (self.vocab_size - 1)
               for w in words]
        return torch.tensor(ids + [0] * (self.max_tokens - len(ids)), dtype=torch.int64)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.words(ids) + self.positions

    def config(self) -> dict[str, int]:
        return {"vocab_size": self.vocab_size, "max_tokens": self.max_tokens, "dim": self.dim}


class PixelWan(WorldModelBackend):
    objective: ClassVar[Objective] = Objective.RESIDUAL_X
    pipeline_class: ClassVar[str] = "WanPipeline"  # its LoRA loader reads our LoRA file; no stock pipeline runs the model
    # proj_out too: it starts at zero, so without an adapter of its own no gradient reaches the others.
    default_lora_targets: ClassVar[tuple[str, ...]] = ("to_q", "to_k", "to_v", "to_out.0", "proj_out")

    transformer: Any  # diffusers WanTransformer3DModel, built in `build`
    text: HashedTextEncoder

    # --- modules ---------------------------------------------------------------------------------
    def build(self, base: Path | None) -> None:
        from diffusers import WanTransformer3DModel

        if base is None:
            transformer_kwargs, text_kwargs = self._tiny_sizes()
            with torch.random.fork_rng(devices=[]):  # the same weights at every build, the caller's RNG untouched
                torch.manual_seed(self.recipe.train.seed)
                self.transformer = WanTransformer3DModel(**transformer_kwargs, **FIXED)
                self.text = HashedTextEncoder(dim=transformer_kwargs["text_dim"], **text_kwargs)
            nn.init.zeros_(self.transformer.proj_out.weight)  # untrained model == copy the first frame
            nn.init.zeros_(self.transformer.proj_out.bias)
        else:
            if not (base / "transformer").is_dir() or not (base / TEXT_DIR / TEXT_CONFIG).is_file():
                raise WorldModelError(f"{base}: not a pixel-wan base (expected transformer/ and {TEXT_DIR}/{TEXT_CONFIG})")
            self.transformer = WanTransformer3DModel.from_pretrained(base / "transformer")
            self.text = _load_text(base / TEXT_DIR)
        self.transformer.to(self.device)
        self.text.to(self.device)

    def _tiny_sizes(self) -> tuple[dict[str, Any], dict[str, int]]:
        from diffusers import WanTransformer3DModel

        tiny = dict(self.recipe.tiny)
        text_kwargs = {key: int(tiny.pop(key, default)) for key, default in TEXT_DEFAULTS.items()}
        known = set(inspect.signature(WanTransformer3DModel.__init__).parameters) - {"self"} - set(FIXED)
        for key, value in tiny.items():
            if key not in known:
                raise ConfigError(self.recipe.source, f"tiny.{key}", value,
                                  f"unknown pixel-wan size; known: {', '.join(sorted(known | set(TEXT_DEFAULTS)))}")
        if "patch_size" in tiny:
            tiny["patch_size"] = tuple(tiny["patch_size"])
        tiny.setdefault("text_dim", 32)
        return tiny, text_kwargs

    def save_base(self, out: Path) -> None:
        self.transformer.save_pretrained(out / "transformer", safe_serialization=True)
        _save_text(self.text, out / TEXT_DIR)

    def denoiser(self) -> torch.nn.Module:
        return self.transformer

    def jointly_trained(self) -> dict[str, torch.nn.Module]:
        return {TEXT_DIR: self.text}

    # --- training --------------------------------------------------------------------------------
    def encode(self, clip: Clip) -> dict[str, torch.Tensor]:
        v = self.recipe.video
        if clip.frames.shape != (v.num_frames, v.height, v.width, 3):
            raise WorldModelError(f"pixel-wan: clip frames {list(clip.frames.shape)}, recipe {self.recipe.source} "
                                  f"wants {[v.num_frames, v.height, v.width, 3]}")
        frames = torch.from_numpy(np.ascontiguousarray(clip.frames)).permute(3, 0, 1, 2).contiguous()  # (3, T, H, W)
        return {"frames": frames, "tokens": self.text.tokenize(clip.caption)}

    def encoder_fingerprint(self) -> str:
        # `encode` keeps pixels as they are and hashes words: only the tokenizer's settings matter.
        return hashlib.sha256(json.dumps({"tokenizer": TOKENIZER, "vocab_size": self.text.vocab_size,
                                          "max_tokens": self.text.max_tokens}, sort_keys=True).encode()).hexdigest()

    def loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        x0 = batch["frames"].to(self.device).float() / 127.5 - 1.0  # (B, 3, T, H, W)
        b = x0.shape[0]
        t = torch.rand(b, generator=generator, device=self.device)
        noise = torch.randn(x0.shape, generator=generator, device=self.device)
        tb = t.view(b, 1, 1, 1, 1)
        x_t = torch.cat([x0[:, :, :1], ((1 - tb) * x0 + tb * noise)[:, :, 1:]], dim=2)
        predicted = self._predict(x_t, x0[:, :, :1], t, self.text(batch["tokens"].to(self.device)))
        return torch.nn.functional.mse_loss(predicted[:, :, 1:].float(), x0[:, :, 1:])

    def _predict(self, x_t: torch.Tensor, first: torch.Tensor, t: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The clean clip: first frame + the model's residual."""
        mask = torch.zeros_like(x_t[:, :1])
        mask[:, :, 0] = 1.0
        inputs = torch.cat([x_t, first.expand_as(x_t), mask], dim=1)
        residual = self.transformer(inputs, timestep=t * 1000, encoder_hidden_states=text, return_dict=False)[0]
        return first + residual

    # --- results ---------------------------------------------------------------------------------
    def save_full(self, out: Path) -> None:
        self.transformer.save_pretrained(out, safe_serialization=True)
        _save_text(self.text, out / TEXT_DIR)

    def load_full(self, directory: Path) -> None:
        state: dict[str, torch.Tensor] = {}
        for path in sorted(directory.glob("*.safetensors")):
            state.update(load_file(path))
        self.transformer.load_state_dict(state, strict=True)
        self.text.load_state_dict(_load_text(directory / TEXT_DIR).state_dict(), strict=True)

    def save_lora(self, out: Path) -> Path:
        from diffusers import WanPipeline

        path = lora_files.save_lora(WanPipeline, self.transformer, out)
        _save_text(self.text, out / TEXT_DIR)  # trained in full beside the LoRA: it is ours, not a pretrained one
        return path

    def load_lora(self, path: Path) -> None:
        lora_files.load_lora_checked(self.transformer, path, lambda file, name: self.transformer.load_lora_adapter(
            file, prefix="transformer", adapter_name=name))
        self.text.load_state_dict(_load_text(path.parent / TEXT_DIR).state_dict(), strict=True)

    @torch.no_grad()
    def generate(self, image: np.ndarray, prompt: str, *, seed: int, steps: int, guidance: float,
                 negative_prompt: str = "") -> np.ndarray:
        v = self.recipe.video
        first = torch.from_numpy(to_geometry(image, v)).permute(2, 0, 1)[None, :, None].float().to(self.device) / 127.5 - 1
        noise = torch.randn((1, 3, v.num_frames, v.height, v.width), generator=torch.Generator().manual_seed(seed))
        x = torch.cat([first, noise[:, :, 1:].to(self.device)], dim=2)
        texts = [self.text(self.text.tokenize(p)[None].to(self.device)) for p in (prompt, negative_prompt)]
        times = torch.linspace(1.0, 0.0, steps + 1, device=self.device)
        was_training = self.transformer.training
        self.transformer.eval()
        for t, t_next in pairwise(times):
            x0 = self._predict(x, first, t.view(1), texts[0])
            if guidance != 1.0:
                unconditional = self._predict(x, first, t.view(1), texts[1])
                x0 = unconditional + guidance * (x0 - unconditional)
            # Euler on dx/dt = (x_t − x0)/t, which lands on x0 at t = 0; frame 0 stays the given image.
            x = torch.cat([first, (x0 + (t_next / t) * (x - x0))[:, :, 1:]], dim=2)
        self.transformer.train(was_training)
        pixels = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # (3, T, H, W)
        return pixels.permute(1, 2, 3, 0).cpu().numpy()


def _save_text(text: HashedTextEncoder, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / TEXT_CONFIG).write_text(json.dumps(text.config(), indent=2) + "\n")
    save_file({k: v.detach().cpu().contiguous() for k, v in text.state_dict().items()}, directory / TEXT_WEIGHTS)


def _load_text(directory: Path) -> HashedTextEncoder:
    config = json.loads((directory / TEXT_CONFIG).read_text())
    text = HashedTextEncoder(int(config["vocab_size"]), int(config["max_tokens"]), int(config["dim"]))
    text.load_state_dict(load_file(directory / TEXT_WEIGHTS), strict=True)
    return text
