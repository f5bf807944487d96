"""Run an exported policy: one interface, backends by name (`RUNTIMES`), the same actions from each.

    runtime = load_runtime(Path("policy_dir"), "onnxruntime")   # or "torch", "tensorrt", "auto"
    runtime.start_episode("Use the right hand to push the red cube from the table onto the green target.")
    chunk = runtime.act({"observation.images.ego_view": frame}, joint_positions, seed=0)   # [H, D] joint targets
    print(runtime.backend, runtime.latency.summary())

Every backend goes through the same `act`: `policy.preprocess.prepare` (the one preprocessing
function training used), the instruction embedded once per episode (`start_episode`), noise drawn
from `seed` (numpy, so every backend gets the same noise), the backend's `infer` on a batch of one,
then the norm's `denormalize_action`. Backends differ only in `infer`:

- "torch": the checkpoint's PolicyNet (POLICY_DIR/checkpoint, or a CKPT dir directly); on CUDA
  optionally `torch.compile(mode="reduce-overhead")`, which captures CUDA graphs.
- "onnxruntime": the ONNX file; the CUDA execution provider when this onnxruntime has it, else the
  CPU one. ONNX Runtime falls back to CPU silently when CUDA libraries are missing, so `backend`
  reports the providers the session really uses, not the ones asked for.
- "tensorrt": a cached engine built for exactly this machine (`engine.py`, `dreamgen policy
  build-engine`); TensorRT is imported through `dreamgen_core.optional`.
- "auto": loads every backend available here, times each on the same observation, keeps the
  fastest and says so (`selection`: median ms per backend, or why it was not available).

`latency` times each whole `act`, `infer_latency` the backend call alone (see `latency.py`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dreamgen_core.embodiment import Embodiment, load_embodiment
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.latency import LatencyStats
from dreamgen_core.policy.manifest import MANIFEST_FILE, PolicyManifest, load_manifest, manifest_for_checkpoint
from dreamgen_core.policy.preprocess import PolicyNorm, prepare
from dreamgen_core.policy.text import TextEncoder, load_text_encoder
from dreamgen_core.registry import Registry

log = logging.getLogger(__name__)

RUNTIMES = Registry("policy runtime", {
    "torch": "dreamgen_core.policy.runtime_torch:TorchRuntime",
    "onnxruntime": "dreamgen_core.policy.runtime_ort:OnnxRuntime",
    "tensorrt": "dreamgen_core.policy.runtime_tensorrt:TensorRtRuntime",
})
AUTO = "auto"
AUTO_CALLS = 20  # timed calls per backend when "auto" chooses


class PolicyRuntime:
    """Base of every backend: subclasses set `name`, implement `infer` and `unavailable`."""

    name: ClassVar[str] = ""

    def __init__(self, policy_dir: Path, manifest: PolicyManifest) -> None:
        self.policy_dir = Path(policy_dir)
        self.manifest = manifest
        self.norm: PolicyNorm = manifest.policy_norm()
        self.backend = self.name  # refined by subclasses: the device / providers really in use
        self.latency = LatencyStats()
        self.infer_latency = LatencyStats()
        self.selection: dict[str, str] = {}  # filled by "auto"
        self._text_encoder: TextEncoder | None = None
        self._text: np.ndarray | None = None

    @classmethod
    def unavailable(cls, policy_dir: Path, manifest: PolicyManifest) -> str | None:
        """Why this backend cannot run this policy here, or None when it can."""
        return None

    def infer(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """Batched inputs by role (manifest io roles) → normalized actions [B, H, D] float32."""
        raise NotImplementedError

    def start_episode(self, instruction: str) -> None:
        """Embed the instruction once; every `act` of the episode reuses it."""
        if self._text_encoder is None:
            self._text_encoder = load_text_encoder(self.manifest.text_encoder, MANIFEST_FILE)
        text = np.asarray(self._text_encoder.embed(instruction), dtype=np.float32)
        width = self.manifest.io.inputs["text"].shape[-1]
        if text.shape != (width,):
            raise PolicyError(f"{self.policy_dir}: the text encoder {self.manifest.text_encoder.name!r} gives "
                              f"{list(text.shape)} but the network takes [{width}]")
        self._text = text[None]

    def feeds(self, images: Mapping[str, np.ndarray], state: np.ndarray, seed: int) -> dict[str, np.ndarray]:
        """A batch of one, by role, for this observation."""
        if self._text is None:
            raise PolicyError("start_episode(instruction) before act(): the policy needs its instruction")
        inputs = prepare(images, state, self.norm)
        feeds = {"image": inputs.image[None], "state": inputs.state[None], "state_mask": inputs.state_mask[None],
                 "text": self._text}
        if "noise" in self.manifest.io.inputs:
            shape = (1, self.manifest.horizon, self.norm.dim)
            feeds["noise"] = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
        return {role: value for role, value in feeds.items() if role in self.manifest.io.inputs}

    def act(self, images: Mapping[str, np.ndarray], state: np.ndarray, seed: int = 0) -> np.ndarray:
        """Model-view frames by video key + measured joint positions [D] → absolute joint targets [H, D]."""
        start = time.perf_counter()
        feeds = self.feeds(images, state, seed)
        infer_start = time.perf_counter()
        actions = self.infer(feeds)
        self.infer_latency.add(time.perf_counter() - infer_start)
        expected = (1, self.manifest.horizon, self.norm.dim)
        if actions.shape != expected:
            raise PolicyError(f"{self.backend}: output {list(actions.shape)}, expected {list(expected)}")
        chunk = self.norm.denormalize_action(actions[0])
        self.latency.add(time.perf_counter() - start)
        return chunk

    def sample_observation(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """A mid-gray frame per camera and the middle of the state range: for warm-up and timing."""
        size = self.norm.image_size
        images = {key: np.full((size, size, 3), 128, dtype=np.uint8) for key in self.norm.video_keys}
        return images, (self.norm.state_min + self.norm.state_max) / 2

    def warmup(self, calls: int = 3) -> None:
        """Run a few calls (allocations, kernel selection, graph capture) and forget their timings."""
        if self._text is None:
            self.start_episode("warm up")
        images, state = self.sample_observation()
        for _ in range(calls):
            self.act(images, state)
        self.latency.clear()
        self.infer_latency.clear()

    def time_calls(self, calls: int) -> float:
        """Median seconds of `act` over `calls` after a warm-up (timings kept in `latency`)."""
        self.warmup()
        images, state = self.sample_observation()
        for _ in range(calls):
            self.act(images, state)
        return float(np.median(self.latency.samples))


def load_runtime(policy_dir: Path, runtime: str = "onnxruntime", spec: Embodiment | None = None,
                 **options: Any) -> PolicyRuntime:
    """The policy at `policy_dir` (an exported POLICY_DIR, or a training CKPT dir for "torch") on the
    backend `runtime`, checked against `spec` (default: the installed spec of the policy's embodiment).
    `options` go to the backend (torch: device, compile; onnxruntime: providers, threads; tensorrt: precision)."""
    policy_dir = Path(policy_dir)
    manifest = _manifest(policy_dir, runtime, spec)
    if runtime == AUTO:
        return _fastest(policy_dir, manifest)
    RUNTIMES.check(runtime, "--runtime", "runtime")
    backend = RUNTIMES.load(runtime)
    reason = backend.unavailable(policy_dir, manifest)
    if reason:
        raise PolicyError(f"runtime {runtime!r} cannot run {policy_dir} here: {reason}")
    chosen: PolicyRuntime = backend(policy_dir, manifest, **options)
    log.info("%s: runtime %s", policy_dir, chosen.backend)
    return chosen


def _manifest(policy_dir: Path, runtime: str, spec: Embodiment | None) -> PolicyManifest:
    if (policy_dir / MANIFEST_FILE).is_file():
        return load_manifest(policy_dir, spec, check_onnx=runtime != "torch")
    from dreamgen_core.policy.checkpoint import CONFIG_FILE, load_policy

    if (policy_dir / CONFIG_FILE).is_file() and runtime in ("torch", AUTO):
        ckpt = load_policy(policy_dir)
        return manifest_for_checkpoint(ckpt, spec or load_embodiment(ckpt.embodiment))
    raise PolicyError(f"{policy_dir}: no {MANIFEST_FILE} (an exported policy) "
                      + ("nor a training checkpoint" if runtime in ("torch", AUTO) else
                         f"(a training checkpoint runs only on the torch runtime: export it for {runtime!r})"))


def _fastest(policy_dir: Path, manifest: PolicyManifest) -> PolicyRuntime:
    """Every available backend timed on one observation; the fastest kept, the others' numbers reported."""
    selection: dict[str, str] = {}
    best: tuple[float, PolicyRuntime] | None = None
    for name in RUNTIMES.names():
        backend = RUNTIMES.load(name)
        reason = backend.unavailable(policy_dir, manifest)
        if reason:
            selection[name] = f"unavailable: {reason}"
            continue
        candidate: PolicyRuntime = backend(policy_dir, manifest)
        seconds = candidate.time_calls(AUTO_CALLS)
        selection[candidate.backend] = f"{seconds * 1e3:.2f} ms median"
        if best is None or seconds < best[0]:
            best = (seconds, candidate)
    if best is None:
        raise PolicyError(f"{policy_dir}: no runtime can run it here: {selection}")
    chosen = best[1]
    chosen.selection = selection
    chosen.latency.clear()
    chosen.infer_latency.clear()
    log.info("%s: auto chose %s (%s)", policy_dir, chosen.backend, selection)
    return chosen
