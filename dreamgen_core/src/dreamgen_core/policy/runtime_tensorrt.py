"""The "tensorrt" runtime: the cached engine built for exactly this machine (see engine.py).

It never builds: an engine takes minutes to build and must be verified, which is
`dreamgen policy build-engine`'s job. Without an entry for this machine's key (ONNX sha256,
TensorRT version, GPU architecture, precision) it refuses, naming the entries that exist and the
command that builds the right one. `precision` None takes the first cached one of fp16, bf16, fp32.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dreamgen_core.optional import require
from dreamgen_core.policy.engine import PRECISIONS, EngineCache
from dreamgen_core.policy.engine_build import EngineRunner, machine_key
from dreamgen_core.policy.errors import EngineCacheError
from dreamgen_core.policy.manifest import PolicyManifest
from dreamgen_core.policy.runtime import PolicyRuntime

PREFERENCE = ("fp16", "bf16", "fp32")


class TensorRtRuntime(PolicyRuntime):
    name = "tensorrt"

    def __init__(self, policy_dir: Path, manifest: PolicyManifest, precision: str | None = None) -> None:
        super().__init__(policy_dir, manifest)
        cache = EngineCache(self.policy_dir)
        if precision is None:
            cached = {e.key.precision for e in cache.entries()}
            precision = next((p for p in PREFERENCE if p in cached), "fp32")
        if precision not in PRECISIONS:
            raise EngineCacheError(f"tensorrt runtime: precision {precision!r}: one of {', '.join(PRECISIONS)}")
        key = machine_key(manifest, precision)
        self.engine = cache.load(key)
        self.runner = EngineRunner(self.engine.path.read_bytes(), manifest)
        self.backend = f"tensorrt[{precision}, sm{key.compute_capability}, TensorRT {key.tensorrt_version}]"

    @classmethod
    def unavailable(cls, policy_dir: Path, manifest: PolicyManifest) -> str | None:
        try:
            require("tensorrt", "the tensorrt policy runtime")
            import torch
        except ImportError as exc:
            return str(exc)
        if not torch.cuda.is_available():
            return "no CUDA GPU"
        if manifest.onnx is None:
            return "the manifest names no ONNX file"
        keys = [machine_key(manifest, p) for p in PRECISIONS]
        cache = EngineCache(Path(policy_dir))
        if not any(cache.entry(k).is_dir() for k in keys):
            return "no engine cached for this machine (dreamgen policy build-engine)"
        return None

    def infer(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.runner(dict(feeds))
