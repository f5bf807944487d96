"""The "torch" runtime: the checkpoint's own PolicyNet, on CPU or CUDA.

The weights are an exported POLICY_DIR's copy of the checkpoint (`checkpoint:` in policy.yaml), or
a training CKPT dir given directly. On CUDA, `compile=True` (the default there) wraps the network in
`torch.compile(mode="reduce-overhead")`, which records CUDA graphs: one launch per chunk instead
of one per layer, what a small network's latency is mostly made of. On CPU the network runs eagerly
(compiling for a CPU gains little here and costs a C++ toolchain at run time).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dreamgen_core.policy.checkpoint import CONFIG_FILE, load_policy
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.manifest import PolicyManifest
from dreamgen_core.policy.runtime import PolicyRuntime

ROLES = ("image", "state", "state_mask", "text", "noise")


def checkpoint_dir(policy_dir: Path, manifest: PolicyManifest) -> Path:
    return policy_dir / manifest.checkpoint.dir if manifest.checkpoint else policy_dir


class TorchRuntime(PolicyRuntime):
    name = "torch"

    def __init__(self, policy_dir: Path, manifest: PolicyManifest, device: str | None = None,
                 compile: bool | None = None) -> None:
        super().__init__(policy_dir, manifest)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise PolicyError(f"torch runtime: device {device!r}, but this torch ({torch.__version__}) sees no CUDA GPU")
        ckpt = load_policy(checkpoint_dir(self.policy_dir, manifest), device=device)
        if manifest.checkpoint and ckpt.weights_sha256 != manifest.checkpoint.weights_sha256:
            raise PolicyError(f"{ckpt.path}: weights sha256 {ckpt.weights_sha256[:16]}… but the manifest records "
                              f"{manifest.checkpoint.weights_sha256[:16]}…")
        self.device = torch.device(device)
        compiled = self.device.type == "cuda" if compile is None else compile
        self.model: Any = torch.compile(ckpt.model, mode="reduce-overhead") if compiled else ckpt.model
        self.backend = f"torch[{self.device}{', compiled' if compiled else ''}]"

    @classmethod
    def unavailable(cls, policy_dir: Path, manifest: PolicyManifest) -> str | None:
        if not (checkpoint_dir(Path(policy_dir), manifest) / CONFIG_FILE).is_file():
            return "no torch checkpoint in this policy directory (an external ONNX policy)"
        return None

    def infer(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        args = [torch.from_numpy(np.ascontiguousarray(feeds[role])).to(self.device) for role in ROLES]
        with torch.inference_mode():
            return self.model(*args).float().cpu().numpy()
