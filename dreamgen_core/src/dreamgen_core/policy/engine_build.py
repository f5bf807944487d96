"""`dreamgen policy build-engine POLICY_DIR [--fp16|--bf16]`: a TensorRT engine of the exported policy,
verified against ONNX Runtime, stored in the engine cache under this machine's key (engine.py).

TensorRT's public Python API only (`trt.Builder`, `trt.OnnxParser`, a builder config with a
workspace limit and an optimization profile for the dynamic batch, `build_serialized_network`).
Networks are strongly typed (TensorRT 10.12+ accepts the flag; 11 requires it and has no FP16/BF16
builder flags any more): precision lives in the graph. So for --fp16/--bf16 the torch checkpoint in
POLICY_DIR is traced again with its Linear and Conv layers in that precision (`reduced_precision`:
the matrix products; elementwise ops, norms and the flow head's time features stay float32) and
float32 inputs and output, and that ONNX is what TensorRT builds; an external ONNX-only policy
builds in the precision its graph has (--fp32, the default).

Verification: the engine and ONNX Runtime (the fp32 ONNX, CPU) on the same sample inputs; the
build fails past `BOUNDS[precision]` (normalized actions in [-1, 1]). TensorRT cannot be installed
on any machine this was written on, so the build and the engine runner have not run yet; the
reduced-precision trace has (the fp16 ONNX runs in ONNX Runtime's CPU provider: see the tests).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from dreamgen_core.optional import require
from dreamgen_core.policy.engine import CachedEngine, EngineCache, EngineKey
from dreamgen_core.policy.errors import EngineCacheError
from dreamgen_core.policy.manifest import INPUT_ROLES, PolicyManifest, load_manifest

BOUNDS = {"fp32": 1e-3, "fp16": 3e-2, "bf16": 1e-1}
WORKSPACE_BYTES = 1 << 30
MAX_BATCH = 8  # the optimization profile's largest batch (the robot runs batch 1)
TORCH_DTYPES = {"fp16": "float16", "bf16": "bfloat16"}


def machine_key(manifest: PolicyManifest, precision: str) -> EngineKey:
    """The key an engine for this policy needs on this machine: TensorRT's version and GPU 0's architecture."""
    try:
        trt = require("tensorrt", "a TensorRT engine")
    except ImportError as exc:  # a user's machine, not a bug: one line saying what to install
        raise EngineCacheError(str(exc)) from exc
    import torch

    if not torch.cuda.is_available():
        raise EngineCacheError("TensorRT engines need a CUDA GPU; torch sees none here")
    major, minor = torch.cuda.get_device_capability(0)
    assert manifest.onnx is not None
    return EngineKey(manifest.onnx.sha256, str(trt.__version__), f"{major}.{minor}", precision)


def build_engine(policy_dir: Path, precision: str = "fp32", samples: int = 4) -> CachedEngine:
    """Build, verify and cache the engine of `policy_dir` for this machine; returns the cache entry."""
    policy_dir = Path(policy_dir)
    manifest = load_manifest(policy_dir)
    key = machine_key(manifest, precision)
    trt = require("tensorrt", "dreamgen policy build-engine")
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = onnx_for(policy_dir, manifest, precision, Path(scratch))
        engine = _build(trt, onnx_path, manifest)
    inputs = sample_inputs(manifest, samples)
    diff = float(np.max(np.abs(run_engine(engine, manifest, inputs) - _onnx_reference(policy_dir, manifest, inputs))))
    if not diff <= BOUNDS[precision]:
        raise EngineCacheError(f"{policy_dir}: the {precision} engine differs from ONNX Runtime by {diff:.3g} "
                               f"(normalized actions), over the bound {BOUNDS[precision]:g}; not cached")
    return EngineCache(policy_dir).store(key, engine, {"max_abs_diff_vs_onnx": diff, "bound": BOUNDS[precision],
                                                       "samples": samples})


def onnx_for(policy_dir: Path, manifest: PolicyManifest, precision: str, scratch: Path) -> Path:
    """The ONNX to build: the exported one for fp32, the checkpoint re-traced in fp16/bf16 otherwise."""
    assert manifest.onnx is not None
    if precision == "fp32":
        return policy_dir / manifest.onnx.file
    if manifest.checkpoint is None:
        raise EngineCacheError(f"{policy_dir}: --{precision} needs the torch checkpoint (an exported dreamgen policy); "
                               "an external ONNX builds in its own precision with --fp32")
    import torch

    from dreamgen_core.policy.checkpoint import load_policy

    model = load_policy(policy_dir / manifest.checkpoint.dir).model
    wrapped = reduced_precision(model, getattr(torch, TORCH_DTYPES[precision]))
    example = tuple(torch.from_numpy(v) for v in sample_inputs(manifest, 2).values())
    names = [manifest.io.inputs[role].name for role in INPUT_ROLES]
    output = manifest.io.outputs["actions"].name
    path = scratch / f"policy.{precision}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, example, str(path), dynamo=False, input_names=names, output_names=[output],
                          opset_version=manifest.onnx.opset, dynamic_axes={n: {0: "batch"} for n in [*names, output]})
    return path


def reduced_precision(model: Any, dtype: Any) -> Any:
    """A copy of `model` whose Linear and Conv layers compute in `dtype` (weights stored in it, inputs
    cast in, outputs cast back to float32); everything else stays float32. Matrix products are where
    reduced precision pays; elementwise ops, the flow head's sinusoidal time features (angles up to
    ~600 rad, where float16 has no digit after the point) and the Euler updates stay exact. On a tiny
    policy (8 samples, normalized actions): whole network cast 1.5e-3 (fp16) / 7.4e-3 (bf16) off the
    float32 one, Linear and Conv only 5e-5 / 3.8e-4."""
    import copy

    import torch

    class LowPrecision(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner.to(dtype)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x.to(dtype)).float()

    def swap(module: torch.nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
                setattr(module, name, LowPrecision(child))
            else:
                swap(child)

    copied = copy.deepcopy(model).float().eval()
    swap(copied)
    return copied


def _build(trt: Any, onnx_path: Path, manifest: PolicyManifest) -> bytes:
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    creation = trt.NetworkDefinitionCreationFlag
    if int(str(trt.__version__).split(".")[0]) < 10:  # TensorRT 8.x (JetPack 5): ONNX needs explicit batch
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    if hasattr(creation, "STRONGLY_TYPED"):  # 10.x: opt in; 11.x: always on, the flag is accepted
        flags |= 1 << int(creation.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineCacheError(f"{onnx_path}: TensorRT's ONNX parser refused it: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    profile = builder.create_optimization_profile()
    for tensor in manifest.io.inputs.values():
        dims = [int(d) for d in tensor.shape[1:]]
        profile.set_shape(tensor.name, (1, *dims), (1, *dims), (MAX_BATCH, *dims))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineCacheError(f"{onnx_path}: TensorRT could not build an engine (see its log above)")
    return bytes(serialized)


class EngineRunner:
    """A deserialized engine with one execution context; inputs and output through torch CUDA tensors
    (torch is on every GPU machine dreamgen runs on; no pycuda or cuda-python needed)."""

    def __init__(self, engine_bytes: bytes, manifest: PolicyManifest) -> None:
        trt = require("tensorrt", "the tensorrt policy runtime")
        import torch

        self._torch = torch
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(engine_bytes)
        if self.engine is None:
            raise EngineCacheError("TensorRT could not deserialize the engine (built by another TensorRT or GPU?)")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        self.names = {role: spec.name for role, spec in manifest.io.inputs.items()}
        self.output = manifest.io.outputs["actions"].name
        self.tail = tuple(int(d) for d in manifest.io.outputs["actions"].shape[1:])

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        torch = self._torch
        batch = next(iter(feeds.values())).shape[0]
        keep = []  # the device tensors must outlive the launch
        with torch.cuda.stream(self.stream):
            for role, value in feeds.items():
                tensor = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)).cuda(non_blocking=True)
                keep.append(tensor)
                self.context.set_input_shape(self.names[role], tuple(tensor.shape))
                self.context.set_tensor_address(self.names[role], tensor.data_ptr())
            out = torch.empty((batch, *self.tail), dtype=torch.float32, device="cuda")
            self.context.set_tensor_address(self.output, out.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise EngineCacheError("TensorRT: execute_async_v3 failed (see its log)")
        self.stream.synchronize()
        return out.cpu().numpy()


def run_engine(engine: bytes, manifest: PolicyManifest, inputs: dict[str, np.ndarray]) -> np.ndarray:
    return EngineRunner(engine, manifest)({role: inputs[role] for role in manifest.io.inputs})


def sample_inputs(manifest: PolicyManifest, count: int) -> dict[str, np.ndarray]:
    """Random inputs of the manifest's shapes (text: random unit vectors), seeded."""
    rng = np.random.default_rng(0)
    out = {}
    for role in (r for r in INPUT_ROLES if r in manifest.io.inputs):
        shape = (count, *(int(d) for d in manifest.io.inputs[role].shape[1:]))
        if role == "image":
            out[role] = rng.uniform(0, 1, shape)
        elif role == "state":
            out[role] = rng.uniform(-1, 1, shape)
        elif role == "state_mask":
            out[role] = np.ones(shape)
        elif role == "text":
            text = rng.standard_normal(shape)
            out[role] = text / np.linalg.norm(text, axis=1, keepdims=True)
        else:
            out[role] = rng.standard_normal(shape)
    return {role: value.astype(np.float32) for role, value in out.items()}


def _onnx_reference(policy_dir: Path, manifest: PolicyManifest, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    assert manifest.onnx is not None
    session = ort.InferenceSession(str(policy_dir / manifest.onnx.file), providers=["CPUExecutionProvider"])
    (out,) = session.run([manifest.io.outputs["actions"].name],
                         {manifest.io.inputs[role].name: inputs[role] for role in manifest.io.inputs})
    return np.asarray(out)
