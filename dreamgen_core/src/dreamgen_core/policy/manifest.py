"""POLICY_DIR/policy.yaml: what a runtime needs to feed an exported policy and trust its output.

    manifest = load_manifest(Path("policy_dir"))              # checked against the local embodiment spec
    manifest = load_manifest(Path("policy_dir"), spec=robot)   # ... against this robot's spec

The fields (a hand-written manifest plugs in an external ONNX policy, e.g. an exported GR00T model,
as long as its graph takes these roles):

    format: dreamgen.policy-manifest/1
    embodiment: {name: gr1, content_hash: <sha256 of the embodiment spec it was trained for>}
    layout: [joint names of the state/action vector, in order]            # D names
    horizon: 16                                                           # H actions per chunk
    rates: {action_fps: 20.0, control_hz: 20.0}    # chunk step spacing; the robot loop's rate
    text_encoder: {name: hashed, path: null, dim: 128}   # policy.text: embeds the instruction once per episode
    norm: {state_min, state_max, state_q01, state_q99, action_min, action_max, action_q01, action_q99: [D floats],
           image_size: S, video_keys: [dataset video keys, camera order]}   # policy.preprocess.PolicyNorm
    io:
      inputs:                # role: {name: graph input name, shape, dtype}; "batch" marks the dynamic batch
        image: {name: image, shape: [batch, Ncam, 3, S, S], dtype: float32}   # [0, 1], prepare()'s
        state: {name: state, shape: [batch, D], dtype: float32}               # min-max to [-1, 1]
        state_mask: {name: state_mask, shape: [batch, 1], dtype: float32}     # optional role: 1 = state valid
        text: {name: text, shape: [batch, E], dtype: float32}                 # E = text_encoder.dim
        noise: {name: noise, shape: [batch, H, D], dtype: float32}            # optional role: N(0, 1), seeded
      outputs:
        actions: {name: actions, shape: [batch, H, D], dtype: float32}        # normalized to [-1, 1]
    onnx: {file: policy.onnx, sha256: <of the file>, opset: 17}
    checkpoint: {dir: checkpoint, weights_sha256: ...}   # optional: the torch weights (torch runtime)
    export: {max_abs_diff, bound, samples, source, created, versions}   # optional: export's verification

Loading checks everything and fails loudly (`ManifestError`, naming the file and the field): an
embodiment hash that is not the spec's, a layout that is not the spec's, missing or ragged norm
stats, a tensor shape that disagrees with layout/horizon/cameras/text width or with the ONNX graph
itself, an ONNX file whose sha256 is not the recorded one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.config import ConfigError, build, read_yaml
from dreamgen_core.embodiment import Embodiment, load_embodiment
from dreamgen_core.policy.config import TextEncoderSpec
from dreamgen_core.policy.errors import ManifestError, PolicyError
from dreamgen_core.policy.preprocess import PolicyNorm
from dreamgen_core.training.hashing import verified_sha256

if TYPE_CHECKING:
    from dreamgen_core.policy.checkpoint import PolicyCheckpoint

MANIFEST_FILE = "policy.yaml"
FORMAT = "dreamgen.policy-manifest/1"
BATCH = "batch"
INPUT_ROLES = ("image", "state", "state_mask", "text", "noise")
OPTIONAL_INPUTS = ("state_mask", "noise")
OUTPUT_ROLES = ("actions",)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[Any, ...]  # ints, and "batch" for the dynamic first dimension
    dtype: Literal["float32"] = "float32"


@dataclass(frozen=True)
class PolicyIO:
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


@dataclass(frozen=True)
class EmbodimentRef:
    name: str
    content_hash: str


@dataclass(frozen=True)
class PolicyRates:
    action_fps: float
    control_hz: float


@dataclass(frozen=True)
class OnnxRef:
    file: str
    sha256: str
    opset: int


@dataclass(frozen=True)
class CheckpointRef:
    dir: str
    weights_sha256: str


@dataclass(frozen=True)
class ExportRecord:
    max_abs_diff: float
    bound: float
    samples: int
    source: str
    created: str
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyManifest:
    format: str
    embodiment: EmbodimentRef
    layout: tuple[str, ...]
    horizon: int
    rates: PolicyRates
    text_encoder: TextEncoderSpec
    norm: dict[str, Any]
    io: PolicyIO
    onnx: OnnxRef | None = None
    checkpoint: CheckpointRef | None = None
    export: ExportRecord | None = None

    def policy_norm(self) -> PolicyNorm:
        return PolicyNorm.from_dict(self.norm, MANIFEST_FILE)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))  # tuples → lists: plain YAML


def standard_io(norm: PolicyNorm, horizon: int, text_dim: int) -> PolicyIO:
    """The tensors of dreamgen's own PolicyNet (`policy.model`), named after their roles."""
    s, d = norm.image_size, norm.dim
    shapes = {"image": (BATCH, len(norm.video_keys), 3, s, s), "state": (BATCH, d), "state_mask": (BATCH, 1),
              "text": (BATCH, text_dim), "noise": (BATCH, horizon, d)}
    return PolicyIO({role: TensorSpec(role, shape) for role, shape in shapes.items()},
                    {"actions": TensorSpec("actions", (BATCH, horizon, d))})


def write_manifest(directory: Path, manifest: PolicyManifest) -> None:
    write_text_atomic(Path(directory) / MANIFEST_FILE, yaml.safe_dump(manifest.to_dict(), sort_keys=False))


def load_manifest(directory: Path, spec: Embodiment | None = None, check_onnx: bool = True) -> PolicyManifest:
    """The manifest of an exported policy, checked against `spec` (default: the installed spec of its
    embodiment's name) and, with `check_onnx`, against its ONNX file."""
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise ManifestError(f"{path}: missing; {directory} is not an exported policy "
                            "(`dreamgen policy export CKPT --out DIR` writes one)")
    try:
        manifest = build(PolicyManifest, read_yaml(path), str(path))
    except ConfigError as exc:
        raise ManifestError(str(exc)) from exc
    check_manifest(manifest, str(path), spec)
    if check_onnx:
        check_onnx_file(directory, manifest, str(path))
    return manifest


def check_manifest(manifest: PolicyManifest, source: str, spec: Embodiment | None = None) -> None:
    """Every field against the others and against the embodiment spec (ManifestError naming the field)."""
    if manifest.format != FORMAT:
        raise ManifestError(f"{source}: format: {manifest.format!r}: expected {FORMAT!r}")
    norm = _norm(manifest, source)
    spec = spec or _installed_spec(manifest.embodiment.name, source)
    if manifest.embodiment.content_hash != spec.content_hash:
        raise ManifestError(f"{source}: embodiment.content_hash: {manifest.embodiment.content_hash[:16]}…: this policy "
                            f"was made for another version of embodiment {manifest.embodiment.name!r} than the spec "
                            f"here ({spec.name}, {spec.content_hash[:16]}…); joint layout, limits or cameras may differ. "
                            "Re-export (or retrain) against this spec")
    if tuple(manifest.layout) != spec.joint_names:
        slot = next((i for i, (a, b) in enumerate(zip(manifest.layout, spec.joint_names)) if a != b),
                    min(len(manifest.layout), spec.dim))
        raise ManifestError(f"{source}: layout: {len(manifest.layout)} names, slot {slot} differs from "
                            f"{spec.name}'s {spec.dim}-joint layout")
    if norm.dim != len(manifest.layout):
        raise ManifestError(f"{source}: norm: vectors of width {norm.dim}, layout has {len(manifest.layout)} names")
    if manifest.horizon < 1 or manifest.rates.action_fps <= 0 or manifest.rates.control_hz <= 0:
        raise ManifestError(f"{source}: horizon {manifest.horizon} / rates {manifest.rates}: must be positive")
    _check_io(manifest, norm, source)


def _norm(manifest: PolicyManifest, source: str) -> PolicyNorm:
    try:
        norm = PolicyNorm.from_dict(manifest.norm, source)
    except PolicyError as exc:
        raise ManifestError(str(exc)) from exc
    for name in ("state_min", "state_max", "action_min", "action_max"):
        values = getattr(norm, name)
        if not np.all(np.isfinite(values)):
            raise ManifestError(f"{source}: norm.{name}: not finite at slots {np.flatnonzero(~np.isfinite(values)).tolist()}")
    for kind in ("state", "action"):
        low, high = getattr(norm, f"{kind}_min"), getattr(norm, f"{kind}_max")
        if np.any(high < low):
            raise ManifestError(f"{source}: norm.{kind}_max below norm.{kind}_min at slots "
                                f"{np.flatnonzero(high < low).tolist()}")
    return norm


def _installed_spec(name: str, source: str) -> Embodiment:
    try:
        return load_embodiment(name)
    except (FileNotFoundError, ConfigError) as exc:
        raise ManifestError(f"{source}: embodiment.name: {name!r}: cannot load its spec here ({exc})") from exc


def _check_io(manifest: PolicyManifest, norm: PolicyNorm, source: str) -> None:
    io = manifest.io
    for roles, given, kind in ((INPUT_ROLES, io.inputs, "inputs"), (OUTPUT_ROLES, io.outputs, "outputs")):
        unknown = sorted(set(given) - set(roles))
        missing = [r for r in roles if r not in given and r not in OPTIONAL_INPUTS]
        if unknown or missing:
            raise ManifestError(f"{source}: io.{kind}: unknown roles {unknown}, missing roles {missing}; "
                                f"roles are {list(roles)}")
    expected = {role: spec.shape for role, spec in
                standard_io(norm, manifest.horizon, manifest.text_encoder.dim).inputs.items()}
    expected["actions"] = (BATCH, manifest.horizon, norm.dim)
    for role, tensor in {**io.inputs, **io.outputs}.items():
        shape = tuple(tensor.shape)
        if shape != expected[role]:
            raise ManifestError(f"{source}: io.{'outputs' if role in OUTPUT_ROLES else 'inputs'}.{role}.shape: "
                                f"{list(shape)}: expected {list(expected[role])} (from layout, horizon, norm.image_size, "
                                "norm.video_keys and text_encoder.dim)")


def check_onnx_file(directory: Path, manifest: PolicyManifest, source: str) -> None:
    """The ONNX file exists, is the one recorded (sha256), and its graph's inputs and outputs are the manifest's."""
    if manifest.onnx is None:
        raise ManifestError(f"{source}: onnx: missing; an exported policy names its ONNX file")
    path = Path(directory) / manifest.onnx.file
    if not path.is_file():
        raise ManifestError(f"{source}: onnx.file: {manifest.onnx.file!r}: no such file in {directory}")
    verified_sha256(path, manifest.onnx.sha256, source, ManifestError)
    graph = graph_io(path)
    for kind, declared in (("inputs", manifest.io.inputs), ("outputs", manifest.io.outputs)):
        for role, tensor in declared.items():
            if tensor.name not in graph[kind]:
                raise ManifestError(f"{source}: io.{kind}.{role}.name: {tensor.name!r}: the ONNX graph's {kind} are "
                                    f"{sorted(graph[kind])}")
            dims = graph[kind][tensor.name]
            if len(dims) != len(tensor.shape) or any(isinstance(g, int) and g != m
                                                      for g, m in zip(dims, tensor.shape)):
                raise ManifestError(f"{source}: io.{kind}.{role}.shape: {list(tensor.shape)} but the ONNX graph's "
                                    f"{tensor.name!r} is {list(dims)}")
    required = {t.name for t in manifest.io.inputs.values()}
    if set(graph["inputs"]) - required:
        raise ManifestError(f"{source}: io.inputs: the ONNX graph also needs {sorted(set(graph['inputs']) - required)}")


def graph_io(path: Path) -> dict[str, dict[str, list[int | str]]]:
    """Input and output names of an ONNX graph with their dims (int, or the symbolic name as str)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}

    def dims(value: Any) -> list[int | str]:
        return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]

    return {"inputs": {v.name: dims(v) for v in model.graph.input if v.name not in initializers},
            "outputs": {v.name: dims(v) for v in model.graph.output}}


def manifest_for_checkpoint(ckpt: PolicyCheckpoint, spec: Embodiment) -> PolicyManifest:
    """The manifest of a trained checkpoint, before export (no ONNX yet): what the torch runtime runs on."""
    if ckpt.embodiment_hash != spec.content_hash:
        raise ManifestError(f"{ckpt.path}: trained for embodiment {ckpt.embodiment!r} {ckpt.embodiment_hash[:16]}…, "
                            f"but the spec here is {spec.content_hash[:16]}…; retrain against this spec")
    return PolicyManifest(FORMAT, EmbodimentRef(ckpt.embodiment, ckpt.embodiment_hash), tuple(ckpt.layout), ckpt.horizon,
                          PolicyRates(spec.rates.dataset_fps, spec.rates.control_hz), ckpt.text_encoder,
                          ckpt.norm.to_dict(), standard_io(ckpt.norm, ckpt.horizon, ckpt.text_encoder.dim))
