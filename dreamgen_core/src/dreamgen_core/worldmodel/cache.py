"""Encoded clips cached on disk under their content key (`clipset.content_key`), as safetensors.

Encoding (VAE latents, text embeddings) is the expensive, unchanging part of a training sample, so
each clip is encoded once per (clip bytes, caption, backend, encoder, geometry) and read back on
every later run or resume. Files are written atomically, so a killed run leaves whole entries or
none; an unreadable entry is encoded again (the cache only ever holds derived data).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from dreamgen_core.atomic import write_bytes_atomic


class EncodedCache:
    """`<directory>/<key>.safetensors`, one per encoded clip."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.safetensors"

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        """The cached tensors of `key`, or None when absent or unreadable."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return load_file(path)
        except (SafetensorError, OSError):
            return None

    def get_or_encode(self, key: str, encode: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        cached = self.get(key)
        if cached is not None:
            return cached
        tensors = {name: value.detach().cpu().contiguous() for name, value in encode().items()}
        write_bytes_atomic(self.path(key), save(tensors))
        return tensors
