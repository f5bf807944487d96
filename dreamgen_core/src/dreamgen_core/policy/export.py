"""`dreamgen policy export CKPT --out POLICY_DIR`: a trained checkpoint → ONNX + policy.yaml, verified.

    POLICY_DIR/policy.onnx     the whole network, flow sampler unrolled (opset 17, dynamic batch)
    POLICY_DIR/policy.yaml     the manifest (manifest.py): io, horizon, rates, norm, text encoder,
                               embodiment + hash, ONNX sha256, and this export's verification
    POLICY_DIR/checkpoint/     the checkpoint's files, so one directory serves every runtime

The graph is traced with torch's TorchScript-based exporter (`dynamo=False`): the network has no
data-dependent control flow, and the torch.export-based exporter would add onnxscript to the
dependencies for nothing here. Before the directory is swapped in (AtomicDir) the ONNX file runs in
ONNX Runtime (CPU) on sample inputs, batched and one at a time, against the torch network, and
the export fails when the largest difference of the normalized actions exceeds `bound`
(default 1e-4; fp32 on both sides typically agrees to ~1e-6). Samples: random images and states
(one with the state masked, as for dream samples), the embeddings of the sim's task
instructions, N(0, 1) noise.
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dreamgen_core import __version__
from dreamgen_core.atomic import AtomicDir
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.policy.checkpoint import CONFIG_FILE, MODEL_FILE, PolicyCheckpoint, load_policy
from dreamgen_core.policy.errors import ExportError
from dreamgen_core.policy.manifest import (
    INPUT_ROLES,
    CheckpointRef,
    ExportRecord,
    OnnxRef,
    PolicyManifest,
    load_manifest,
    manifest_for_checkpoint,
    write_manifest,
)
from dreamgen_core.policy.text import load_text_encoder
from dreamgen_core.sim.task import TASKS
from dreamgen_core.training.hashing import file_sha256

ONNX_FILE = "policy.onnx"
CHECKPOINT_DIR = "checkpoint"
OPSET = 17
BOUND = 1e-4
SAMPLES = 4


def export_policy(ckpt_dir: Path, out: Path, opset: int = OPSET, bound: float = BOUND, samples: int = SAMPLES,
                  seed: int = 0) -> PolicyManifest:
    """Export the checkpoint at `ckpt_dir` into `out` (replaced whole if it exists); returns the manifest."""
    if opset < 17:
        raise ExportError(f"--opset {opset}: at least 17 (LayerNormalization and the ops TensorRT 10 expects)")
    ckpt = load_policy(ckpt_dir)
    spec = load_embodiment(ckpt.embodiment)
    manifest = manifest_for_checkpoint(ckpt, spec)
    with AtomicDir(Path(out), validate=lambda build: _problems(build, spec)) as build:
        trace_onnx(ckpt, manifest, build / ONNX_FILE, opset)
        shutil.copytree(ckpt_dir, build / CHECKPOINT_DIR, ignore=lambda _, names: [
            n for n in names if n not in (MODEL_FILE, CONFIG_FILE)])
        inputs = sample_inputs(ckpt, manifest, samples, seed)
        diff = max_abs_diff(build / ONNX_FILE, ckpt, inputs)
        if not diff <= bound:
            raise ExportError(f"{ckpt_dir}: ONNX Runtime and torch disagree by {diff:.3g} (normalized actions) on "
                              f"{samples} sample inputs, over the bound {bound:g}; the export is not written")
        manifest = replace(
            manifest, onnx=OnnxRef(ONNX_FILE, file_sha256(build / ONNX_FILE), opset),
            checkpoint=CheckpointRef(CHECKPOINT_DIR, ckpt.weights_sha256),
            export=ExportRecord(diff, bound, samples, str(Path(ckpt_dir).resolve()),
                                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), _versions()))
        write_manifest(build, manifest)
    return manifest


def trace_onnx(ckpt: PolicyCheckpoint, manifest: PolicyManifest, path: Path, opset: int) -> None:
    """The network → ONNX at `path`, every input and the output with a dynamic batch dimension."""
    example = tuple(torch.from_numpy(v) for v in sample_inputs(ckpt, manifest, 2, 0).values())
    names = [manifest.io.inputs[role].name for role in INPUT_ROLES]
    output = manifest.io.outputs["actions"].name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice and tracer warnings
        torch.onnx.export(ckpt.model.cpu().eval(), example, str(path), dynamo=False, input_names=names,
                          output_names=[output], opset_version=opset,
                          dynamic_axes={name: {0: "batch"} for name in [*names, output]})
    declare_output_shape(path, manifest)


def declare_output_shape(path: Path, manifest: PolicyManifest) -> None:
    """Write the output's static dims into the graph: the tracer names them after the final Reshape
    ("Reshapeactions_dim_1"), and a consumer (TensorRT, a reader of the file) should see [batch, H, D]."""
    import onnx

    model = onnx.load(str(path))
    spec = manifest.io.outputs["actions"]
    (value,) = [v for v in model.graph.output if v.name == spec.name]
    for dim, size in zip(value.type.tensor_type.shape.dim, spec.shape):
        if isinstance(size, int):
            dim.Clear()
            dim.dim_value = size
    onnx.save(model, str(path))


def sample_inputs(ckpt: PolicyCheckpoint, manifest: PolicyManifest, count: int, seed: int) -> dict[str, np.ndarray]:
    """`count` inputs by role: random images and states (the first with its state masked), the sim's
    task instructions embedded in turn, N(0, 1) noise."""
    rng = np.random.default_rng(seed)
    shapes = {role: (count, *spec.shape[1:]) for role, spec in manifest.io.inputs.items()}
    encoder = load_text_encoder(ckpt.text_encoder)
    mask = np.ones(shapes["state_mask"], dtype=np.float32)
    mask[0] = 0.0
    return {
        "image": rng.uniform(0, 1, shapes["image"]).astype(np.float32),
        "state": (rng.uniform(-1, 1, shapes["state"]) * mask).astype(np.float32),
        "state_mask": mask,
        "text": np.stack([encoder.embed(TASKS[i % len(TASKS)].instruction) for i in range(count)]).astype(np.float32),
        "noise": rng.standard_normal(shapes["noise"]).astype(np.float32),
    }


def max_abs_diff(onnx_path: Path, ckpt: PolicyCheckpoint, inputs: dict[str, np.ndarray]) -> float:
    """Largest |ONNX Runtime (CPU) − torch| over the batch at once and each sample alone."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    count = len(inputs["image"])
    worst = 0.0
    for rows in [slice(0, count), *(slice(i, i + 1) for i in range(count))]:
        batch = [inputs[role][rows] for role in INPUT_ROLES]
        (onnx_out,) = session.run(None, dict(zip(names, batch)))
        with torch.inference_mode():
            torch_out = ckpt.model(*(torch.from_numpy(np.ascontiguousarray(b)) for b in batch)).numpy()
        worst = max(worst, float(np.max(np.abs(onnx_out - torch_out))))
    return worst


def _problems(build: Path, spec) -> list[str]:
    try:
        load_manifest(build, spec)
    except Exception as exc:  # any failure to load is a reason not to swap it in
        return [str(exc)]
    return []


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"dreamgen": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}
