"""The "onnxruntime" runtime: the exported ONNX file in an ONNX Runtime session.

Providers: the CUDA execution provider first when this onnxruntime build has it (onnxruntime-gpu,
the `gpu` extra), then the CPU one. A CUDA provider that cannot load its libraries is dropped by
ONNX Runtime with only a log line, and the session runs on the CPU; `backend` therefore lists
`session.get_providers()`, the providers really in use, and a fallback is logged as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from dreamgen_core.optional import require
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.manifest import PolicyManifest
from dreamgen_core.policy.runtime import PolicyRuntime

log = logging.getLogger(__name__)
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def default_providers(available: Sequence[str]) -> list[str]:
    return [CUDA, CPU] if CUDA in available else [CPU]


class OnnxRuntime(PolicyRuntime):
    name = "onnxruntime"

    def __init__(self, policy_dir: Path, manifest: PolicyManifest, providers: Sequence[str] | None = None,
                 threads: int = 0) -> None:
        """`providers`: ONNX Runtime provider names in order (default: CUDA when built in, then CPU);
        `threads`: intra-op threads (0: ONNX Runtime's default, one per core)."""
        super().__init__(policy_dir, manifest)
        ort = require("onnxruntime", "the onnxruntime policy runtime")
        assert manifest.onnx is not None  # load_manifest checked it
        wanted = list(providers) if providers else default_providers(ort.get_available_providers())
        missing = [p for p in wanted if p not in ort.get_available_providers()]
        if missing:
            raise PolicyError(f"onnxruntime {ort.__version__}: providers {missing} are not in this build "
                              f"(it has {ort.get_available_providers()})")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # errors only: provider fallbacks are reported below, in our words
        self.session = ort.InferenceSession(str(self.policy_dir / manifest.onnx.file), options, providers=wanted)
        self.providers = list(self.session.get_providers())
        dropped = [p for p in wanted if p not in self.providers]
        if dropped:
            log.warning("onnxruntime: %s requested but not in use (libraries missing?); running on %s",
                        dropped, self.providers)
        self.backend = f"onnxruntime[{','.join(self.providers)}]"
        self._names = {role: spec.name for role, spec in manifest.io.inputs.items()}
        self._output = manifest.io.outputs["actions"].name

    @classmethod
    def unavailable(cls, policy_dir: Path, manifest: PolicyManifest) -> str | None:
        try:
            require("onnxruntime", "the onnxruntime policy runtime")
        except ImportError as exc:
            return str(exc)
        return None if manifest.onnx else "the manifest names no ONNX file"

    def infer(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        named = {self._names[role]: np.ascontiguousarray(value, dtype=np.float32) for role, value in feeds.items()}
        (actions,) = self.session.run([self._output], named)
        return np.asarray(actions, dtype=np.float32)
