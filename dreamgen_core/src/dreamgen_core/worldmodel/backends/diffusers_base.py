"""What every diffusers image-to-video backend shares: modules, base directories, LoRA files, sampling.

A family (wan.py, cosmos.py, cogvideox.py, ltx.py) says how to build its tiny random-weight pipeline from
`recipe.tiny`, what a clip encodes to, its loss, and the keyword arguments of its stock pipeline's
call; this class does the rest the same way for all of them:
- `build(None)` builds the tiny pipeline under a fixed seed (`tiny.seed`, default 0), so two builds
  are identical; `build(path)` checks the directory's model_index.json names this family's pipeline
  and loads it with the stock `from_pretrained` (dtypes: `load_dtypes`); then the recipe's geometry
  is checked against the VAE's compression and the patch size.
  Every module is put in eval mode (random-weight T5 encoders have dropout, which would make a fixed
  seed give different videos) and everything but the denoiser is frozen.
- `save_base` writes the pipeline with `save_pretrained` into `out`; the caller makes `out` atomic.
- LoRA files: `lora_files.py` (stock save with metadata, stock load checked key by key).
- `generate` runs the stock pipeline with a CPU generator seeded by `seed` (the same noise on any
  device) and returns uint8 frames; on CUDA under bf16 autocast when the recipe asks for bf16.
"""

from __future__ import annotations

import hashlib
import json
from abc import abstractmethod
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from dreamgen_core.config import ConfigError
from dreamgen_core.worldmodel.backend import WorldModelBackend
from dreamgen_core.worldmodel.backends import lora_files
from dreamgen_core.worldmodel.errors import WorldModelError

_FINGERPRINT_VALUES = 4096  # values sampled per tensor: a different checkpoint differs in them


class DiffusersBackend(WorldModelBackend):
    """A stock diffusers image-to-video pipeline behind the backend interface; see the module doc."""

    lora_saver: ClassVar[str]              # the pipeline class whose save_lora_weights writes the file
    encoders: ClassVar[tuple[str, ...]]    # pipeline components `encode` depends on (fingerprinted)

    _pipe: Any = None

    # --- modules ---------------------------------------------------------------------------------
    @property
    def pipe(self) -> Any:
        if self._pipe is None:
            raise WorldModelError(f"{type(self).__name__}: call build() first")
        return self._pipe

    def build(self, base: Path | None) -> None:
        if base is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(self.recipe.tiny.get("seed", 0)))
                pipe = self._build_tiny()
        else:
            self.check_base(base, _model_index(base))
            pipe = self._pipeline_class().from_pretrained(str(base), torch_dtype=self.load_dtypes(),
                                                          **self._load_kwargs())
        for name, module in pipe.components.items():
            if isinstance(module, torch.nn.Module):
                module.eval()
                if name != "transformer":
                    module.requires_grad_(False)
        self._pipe = pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        self.check_geometry()

    def load_dtypes(self) -> dict[str, torch.dtype]:
        """Weights' dtypes of a real base, as diffusers' own examples load them: on CUDA with bf16, the
        frozen text encoder and (LoRA mode) the transformer in bf16 — a 14B Wan and its UMT5-XXL in fp32
        would not fit one 80 GB GPU — the VAE and the CLIP image encoder in fp32; a fully fine-tuned
        transformer in fp32 (AdamW needs fp32 weights). On the CPU everything is fp32."""
        if not str(self.device).startswith("cuda") or self.recipe.train.mixed_precision != "bf16":
            return {"default": torch.float32}
        dtypes = {"default": torch.bfloat16, "vae": torch.float32, "image_encoder": torch.float32}
        if self.recipe.train.mode == "full":
            dtypes["transformer"] = torch.float32
        return dtypes

    def check_base(self, base: Path, model_index: dict[str, Any]) -> None:
        """A base directory must hold this family's pipeline; says what it holds instead."""
        found = model_index.get("_class_name")
        if found != self.pipeline_class:
            raise WorldModelError(f"base model {base} holds a {found} (model_index.json); backend "
                                  f"{self.recipe.backend} of {self.recipe.source} needs a {self.pipeline_class}")

    def check_geometry(self) -> None:
        """The recipe's video must fit the VAE's compression and the transformer's patches; checked at
        build so a wrong size fails before any encoding, naming the recipe key."""
        v, pipe, src = self.recipe.video, self.pipe, self.recipe.source
        patch = pipe.transformer.config.patch_size
        patch_h = patch[1] if isinstance(patch, (list, tuple)) else patch
        spatial, temporal = self.compression()
        for key, value in (("video.height", v.height), ("video.width", v.width)):
            if value % (spatial * patch_h):
                raise ConfigError(src, key, value, f"must be a multiple of {spatial * patch_h} "
                                  f"(the VAE's {spatial}x times the {patch_h}-pixel patch)")
        if (v.num_frames - 1) % temporal:
            raise ConfigError(src, "video.num_frames", v.num_frames,
                              f"must be {temporal}k + 1 (the VAE compresses time {temporal}x after the first frame)")

    def save_base(self, out: Path) -> None:
        if getattr(self.denoiser(), "peft_config", None):
            # peft renames the wrapped layers (`base_layer`): a base saved now would not load as a base
            raise WorldModelError(f"{type(self).__name__}.save_base: the denoiser already carries a LoRA adapter; "
                                  "save the base before adding one")
        self.pipe.save_pretrained(str(out), safe_serialization=True)

    def denoiser(self) -> torch.nn.Module:
        return self.pipe.transformer

    def encoder_fingerprint(self) -> str:
        digest = hashlib.sha256(f"{self.recipe.backend}\0{self.recipe.video}\0".encode())
        for name in self.encoders:
            module = getattr(self.pipe, name)
            digest.update(f"{name}\0{type(module).__name__}\0".encode())
            if isinstance(module, torch.nn.Module):
                _digest_module(digest, module)
            elif hasattr(module, "get_vocab"):
                digest.update(repr(sorted(module.get_vocab().items())).encode())
            else:
                digest.update(repr(getattr(module, "config", module)).encode())
        return digest.hexdigest()

    # --- results ---------------------------------------------------------------------------------
    def save_lora(self, out: Path) -> Path:
        return lora_files.save_lora(_diffusers_class(self.lora_saver), self.denoiser(), out)

    def load_lora(self, path: Path) -> None:
        self.attach_lora(self.pipe, path)

    @classmethod
    def attach_lora(cls, pipe: Any, path: Path) -> int:
        """Load a LoRA file into `pipe` (any pipeline of this family) with the stock loader; checked."""
        return lora_files.load_lora_checked(
            pipe.transformer, path, lambda file, name: pipe.load_lora_weights(file, adapter_name=name))

    def generate(self, image: np.ndarray, prompt: str, *, seed: int, steps: int, guidance: float,
                 negative_prompt: str = "") -> np.ndarray:
        v = self.recipe.video
        if image.shape != (v.height, v.width, 3) or image.dtype != np.uint8:
            raise WorldModelError(f"initial frame is {image.dtype} {image.shape}; {self.recipe.source} "
                                  f"wants uint8 ({v.height}, {v.width}, 3)")
        kwargs = self.pipeline_call(self.pipe, image, prompt, negative_prompt, steps, guidance)
        with self.autocast(), torch.no_grad():
            frames = self.pipe(**kwargs, generator=torch.Generator().manual_seed(seed), output_type="np").frames[0]
        return to_uint8(np.asarray(frames))

    def compression(self) -> tuple[int, int]:
        """(spatial, temporal) compression of the pipeline's VAE."""
        return self.pipe.vae_scale_factor_spatial, self.pipe.vae_scale_factor_temporal

    # --- what a family says ----------------------------------------------------------------------
    @abstractmethod
    def _build_tiny(self) -> Any:
        """The random-weight pipeline of `recipe.tiny` (the caller seeds torch)."""

    def _load_kwargs(self) -> dict[str, Any]:
        """Extra `from_pretrained` arguments of this family."""
        return {}

    @abstractmethod
    def pipeline_call(self, pipe: Any, image: np.ndarray, prompt: str, negative_prompt: str, steps: int,
                      guidance: float) -> dict[str, Any]:
        """Keyword arguments of the stock pipeline's call for one video at the recipe's geometry
        (a fresh pipeline of the family may be passed: tests compare one against the trained one)."""

    # --- helpers for families --------------------------------------------------------------------
    def _pipeline_class(self) -> Any:
        return _diffusers_class(self.pipeline_class)

    def tiny_part(self, key: str) -> dict[str, Any]:
        """`recipe.tiny[key]` as keyword arguments; a missing or non-mapping entry names the recipe."""
        part = self.recipe.tiny.get(key)
        if not isinstance(part, dict):
            raise ConfigError(self.recipe.source, f"tiny.{key}", part,
                              "must be a mapping of the module's constructor arguments")
        return dict(part)

    def construct(self, cls: Any, key: str, **derived: Any) -> Any:
        """`cls(**tiny[key], **derived)`; a wrong argument is a ConfigError naming the recipe key."""
        given = self.tiny_part(key)
        clash = sorted(set(given) & set(derived))
        if clash:
            raise ConfigError(self.recipe.source, f"tiny.{key}.{clash[0]}", given[clash[0]],
                              "is derived from the other modules; remove it")
        try:
            return cls(**given, **derived)
        except (TypeError, ValueError) as exc:
            raise ConfigError(self.recipe.source, f"tiny.{key}", given, f"{cls.__name__}: {exc}") from exc

    def autocast(self) -> AbstractContextManager[Any]:
        """bf16/fp16 autocast on CUDA when the recipe asks for it; CPU stays fp32."""
        precision = self.recipe.train.mixed_precision
        if not str(self.device).startswith("cuda") or precision == "no":
            return nullcontext()
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)

    def pixels(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 frames (T, H, W, 3) → a video tensor (1, 3, T, H, W) in [-1, 1] on the backend's device."""
        v = self.recipe.video
        if frames.shape != (v.num_frames, v.height, v.width, 3):
            raise WorldModelError(f"clip frames are {frames.shape}; {self.recipe.source} wants "
                                  f"({v.num_frames}, {v.height}, {v.width}, 3)")
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).unsqueeze(0)
        return (video.float() / 127.5 - 1).to(self.device)


def unbatched(**tensors: torch.Tensor) -> dict[str, torch.Tensor]:
    """One clip's encoded tensors without the batch dim, on the CPU: the loop caches and stacks them."""
    return {key: value[0].detach().float().cpu().contiguous() for key, value in tensors.items()}


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """A pipeline's float frames in [0, 1] → uint8."""
    return (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)


def _model_index(base: Path) -> dict[str, Any]:
    path = base / "model_index.json"
    if not path.is_file():
        raise WorldModelError(f"base model {base} is not a diffusers pipeline directory (no {path.name}); "
                              "pass the directory that holds model_index.json")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorldModelError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(index, dict):
        raise WorldModelError(f"{path}: not a JSON object")
    return index


def _diffusers_class(name: str) -> Any:
    import diffusers

    return getattr(diffusers, name)


def _digest_module(digest: Any, module: torch.nn.Module) -> None:
    # A strided sample of each tensor, not every byte: hashing a 5B-parameter text encoder would take
    # a minute at every run, and any other checkpoint differs in the sampled values.
    for name, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // _FINGERPRINT_VALUES)][:_FINGERPRINT_VALUES]
        digest.update(f"{name}\0{tuple(tensor.shape)}\0{tensor.dtype}\0".encode())
        digest.update(sample.float().cpu().numpy().tobytes())
