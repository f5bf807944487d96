"""`dreamgen policy export`, the policy.yaml manifest, the runtimes and the TensorRT engine cache.

A small untrained PolicyNet stands in for a trained one here (export and runtimes do not care what
the weights learned; test_policy_eval.py evaluates a trained one). The ONNX file is read back with
the `onnx` library, the runtimes are compared on the same observation, every manifest defect is
made by editing a copy of a good export, and the engine cache is exercised without TensorRT.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import yaml

from dreamgen_core.cli.main import main
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.policy.checkpoint import PolicyCheckpoint, build_model, save_policy
from dreamgen_core.policy.config import PolicyConfig, TextEncoderSpec
from dreamgen_core.policy.engine import EngineCache, EngineKey
from dreamgen_core.policy.errors import EngineCacheError, ExportError, ManifestError, PolicyError
from dreamgen_core.policy.export import BOUND, export_policy
from dreamgen_core.policy.latency import LatencyStats
from dreamgen_core.policy.manifest import MANIFEST_FILE, load_manifest
from dreamgen_core.policy.preprocess import norm_from_arrays
from dreamgen_core.policy.runtime import load_runtime
from dreamgen_core.sim.task import TASKS

SPEC = load_embodiment("gr1")
VIDEO_KEY = next(iter(SPEC.cameras.values())).model_view.video_key
TINY = PolicyConfig(image_size=32, hidden=64, text=TextEncoderSpec(dim=32))


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(CKPT, POLICY_DIR): an untrained tiny PolicyNet with a norm over the GR1's joint ranges, exported."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    low = np.array([SPEC.joints[n].lower for n in SPEC.joint_names])
    high = np.array([SPEC.joints[n].upper for n in SPEC.joint_names])
    norm = norm_from_arrays(rng.uniform(low, high, (200, SPEC.dim)), rng.uniform(low, high, (200, SPEC.dim)),
                            TINY.image_size, [VIDEO_KEY])
    root = tmp_path_factory.mktemp("policy")
    save_policy(root / "ckpt", PolicyCheckpoint(build_model(TINY, norm, TINY.text), TINY, norm, SPEC.name,
                                                SPEC.content_hash, SPEC.joint_names, TINY.text, (VIDEO_KEY,), TINY.horizon))
    assert main(["policy", "export", str(root / "ckpt"), "--out", str(root / "policy")]) == 0
    return root / "ckpt", root / "policy"


def observation(seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    low = np.array([SPEC.joints[n].lower for n in SPEC.joint_names])
    high = np.array([SPEC.joints[n].upper for n in SPEC.joint_names])
    return {VIDEO_KEY: rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)}, rng.uniform(low, high)


def test_onnx_file_reads_back_with_dynamic_batch_and_the_recorded_hash(policy) -> None:
    _, policy_dir = policy
    manifest = load_manifest(policy_dir)
    model = onnx.load(str(policy_dir / "policy.onnx"))
    onnx.checker.check_model(model)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    inputs = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.input}
    assert inputs == {"image": ["batch", 1, 3, 32, 32], "state": ["batch", 44], "state_mask": ["batch", 1],
                      "text": ["batch", 32], "noise": ["batch", 16, 44]}
    assert [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == ["batch", 16, 44]
    assert manifest.onnx is not None and manifest.export is not None
    assert manifest.onnx.sha256 == hashlib.sha256((policy_dir / "policy.onnx").read_bytes()).hexdigest()
    assert manifest.export.max_abs_diff < BOUND == manifest.export.bound
    assert manifest.embodiment.content_hash == SPEC.content_hash and manifest.layout == SPEC.joint_names


def test_onnxruntime_runtime_matches_torch_runtime(policy) -> None:
    ckpt, policy_dir = policy
    runtimes = [load_runtime(policy_dir, "onnxruntime", threads=1), load_runtime(policy_dir, "torch"),
                load_runtime(ckpt, "torch")]
    assert runtimes[0].backend == "onnxruntime[CPUExecutionProvider]" and runtimes[1].backend == "torch[cpu]"
    images, state = observation(1)
    chunks = []
    for runtime in runtimes:
        runtime.start_episode(TASKS[1].instruction)
        chunks.append(runtime.act(images, state, seed=7))
    span = runtimes[0].norm.action_max - runtimes[0].norm.action_min
    # the export's bound is on normalized actions; in joint units it scales by half the action range
    assert np.all(np.abs(chunks[0] - chunks[1]) <= BOUND * span / 2 + 1e-6)
    assert np.array_equal(chunks[1], chunks[2])  # the export's copy of the weights is the checkpoint's
    assert chunks[0].shape == (16, 44) and chunks[0].dtype == np.float32
    lo, hi = runtimes[0].norm.action_min, runtimes[0].norm.action_max
    assert np.all((chunks[0] >= lo - 1e-5) & (chunks[0] <= hi + 1e-5))  # the net clamps to the trained range
    ort = runtimes[0]
    assert np.array_equal(ort.act(images, state, seed=7), chunks[0])      # deterministic given the seed
    assert not np.allclose(ort.act(images, state, seed=8), chunks[0])     # the noise matters (flow head)
    ort.start_episode(TASKS[2].instruction)
    assert not np.allclose(ort.act(images, state, seed=7), chunks[0])     # and so does the instruction
    assert ort.latency.summary()["calls"] == 4 and sum(ort.latency.histogram()[0]) == 4


def test_batches_of_several_match_one_at_a_time(policy) -> None:
    _, policy_dir = policy
    runtime = load_runtime(policy_dir, "onnxruntime", threads=1)
    runtime.start_episode(TASKS[0].instruction)
    feeds = [runtime.feeds(*observation(i), seed=i) for i in range(3)]
    batched = runtime.infer({role: np.concatenate([f[role] for f in feeds]) for role in feeds[0]})
    single = np.concatenate([runtime.infer(f) for f in feeds])
    assert batched.shape == (3, 16, 44) and np.max(np.abs(batched - single)) < 1e-5


def test_act_before_start_episode_and_unknown_runtimes_fail_clearly(policy) -> None:
    ckpt, policy_dir = policy
    runtime = load_runtime(policy_dir, "onnxruntime")
    with pytest.raises(PolicyError, match="start_episode"):
        runtime.act(*observation(0))
    with pytest.raises(Exception, match="unknown policy runtime; known: onnxruntime, tensorrt, torch"):
        load_runtime(policy_dir, "tflite")
    with pytest.raises(PolicyError, match="tensorrt.*cannot run.*(tensorrt|CUDA)"):
        load_runtime(policy_dir, "tensorrt")
    with pytest.raises(PolicyError, match="runs only on the torch runtime"):
        load_runtime(ckpt, "onnxruntime")


def test_auto_picks_a_measured_backend_and_says_why_others_were_not(policy) -> None:
    _, policy_dir = policy
    runtime = load_runtime(policy_dir, "auto")
    assert runtime.backend in runtime.selection
    assert "ms median" in runtime.selection[runtime.backend]
    if not torch.cuda.is_available():
        assert runtime.selection["tensorrt"].startswith("unavailable: ")


def _edited(policy_dir: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(policy_dir, copy)
    document = yaml.safe_load((copy / MANIFEST_FILE).read_text())
    edit(document)
    (copy / MANIFEST_FILE).write_text(yaml.safe_dump(document, sort_keys=False))
    return copy


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["embodiment"].update(content_hash="0" * 64), r"embodiment\.content_hash: 0000.*another version"),
    (lambda d: d["norm"].pop("action_max"), r"norm: missing or malformed key.*action_max"),
    (lambda d: d.pop("norm"), r"norm: None: missing required key"),
    (lambda d: d["norm"]["state_min"].pop(), r"norm: vectors of different shapes"),
    (lambda d: d["io"]["inputs"]["state"].update(shape=["batch", 43]), r"io\.inputs\.state\.shape: \['batch', 43\]"),
    (lambda d: d["io"]["outputs"]["actions"].update(shape=["batch", 8, 44]), r"io\.outputs\.actions\.shape"),
    (lambda d: d.update(horizon=8), r"io\.inputs\.noise\.shape: \['batch', 16, 44\]: expected \['batch', 8, 44\]"),
    (lambda d: d["io"]["inputs"]["image"].update(name="pixels"), r"io\.inputs\.image\.name: 'pixels': the ONNX graph"),
    (lambda d: d["onnx"].update(sha256="f" * 64), r"policy\.onnx: sha256 .* but .* records ffff"),
    (lambda d: d["layout"].reverse(), r"layout: 44 names, slot 0 differs"),
])
def test_manifest_mismatches_fail_loudly_at_load(policy, tmp_path: Path, edit, message: str) -> None:
    _, policy_dir = policy
    broken = _edited(policy_dir, tmp_path, edit)
    with pytest.raises(ManifestError, match=message):
        load_runtime(broken, "onnxruntime")


def test_a_replaced_onnx_file_and_another_robots_spec_are_refused(policy, tmp_path: Path) -> None:
    _, policy_dir = policy
    copy = _edited(policy_dir, tmp_path, lambda d: None)
    with pytest.raises(ManifestError, match="ur5e_2f85.*Re-export"):
        load_manifest(copy, spec=load_embodiment("ur5e_2f85"))
    with open(copy / "policy.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ManifestError, match="replaced or damaged"):
        load_manifest(copy)


def test_export_past_its_bound_writes_nothing(policy, tmp_path: Path) -> None:
    ckpt, _ = policy
    with pytest.raises(ExportError, match=r"disagree by .* over the bound 1e-12"):
        export_policy(ckpt, tmp_path / "out", bound=1e-12, samples=2)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ExportError, match="at least 17"):
        export_policy(ckpt, tmp_path / "out", opset=13)


def test_engine_cache_refuses_an_entry_built_for_another_key(tmp_path: Path) -> None:
    here = EngineKey("a" * 64, "11.4.0", "9.0", "fp16")
    cache = EngineCache(tmp_path)
    stored = cache.store(here, b"engine for an H100", {"max_abs_diff_vs_onnx": 0.01})
    assert cache.load(here).path.read_bytes() == b"engine for an H100" == stored.path.read_bytes()
    # an Orin (sm 8.7) with an older TensorRT asks for its own key: none cached, the H100 entry is named
    orin = replace(here, tensorrt_version="10.3.0", compute_capability="8.7")
    with pytest.raises(EngineCacheError, match=r"no engine for this machine \(fp16-sm87-trt10\.3\.0-aaaa.*fp16-sm90"):
        cache.load(orin)
    # the H100 engine copied under the Orin's name is still refused, naming every field that differs
    shutil.copytree(cache.entry(here), cache.entry(orin))
    with pytest.raises(EngineCacheError, match=r"built for another key.*tensorrt_version '11\.4\.0' \(this machine: "
                                               r"'10\.3\.0'\); compute_capability '9\.0' \(this machine: '8\.7'\)"):
        cache.load(orin)
    # other precisions and other ONNX files are other keys too
    for other in (replace(here, precision="bf16"), replace(here, onnx_sha256="b" * 64)):
        shutil.copytree(cache.entry(here), cache.entry(other))
        with pytest.raises(EngineCacheError, match="built for another key"):
            cache.load(other)
    # a damaged engine under the right key
    with open(cache.entry(here) / "engine.plan", "ab") as f:
        f.write(b"!")
    with pytest.raises(EngineCacheError, match="damaged or replaced"):
        cache.load(here)
    with pytest.raises(EngineCacheError, match="precision 'int8'"):
        EngineKey("a" * 64, "11.4.0", "9.0", "int8")


def test_reduced_precision_onnx_for_engines(policy, tmp_path: Path) -> None:
    """What build-engine hands TensorRT for --fp16/--bf16, checked without TensorRT: float32 inputs and
    output, weights in the reduced type; the fp16 graph runs in ONNX Runtime's CPU provider close to
    the float32 export (bf16 kernels are GPU-only there: checked by onnx's checker)."""
    import onnxruntime

    from dreamgen_core.policy.engine_build import onnx_for, sample_inputs

    _, policy_dir = policy
    manifest = load_manifest(policy_dir)
    inputs = sample_inputs(manifest, 4)
    feeds = {manifest.io.inputs[role].name: value for role, value in inputs.items()}
    reference = onnxruntime.InferenceSession(str(policy_dir / "policy.onnx")).run(None, feeds)[0]
    for precision, weights in (("fp16", onnx.TensorProto.FLOAT16), ("bf16", onnx.TensorProto.BFLOAT16)):
        model = onnx.load(str(onnx_for(policy_dir, manifest, precision, tmp_path)))
        onnx.checker.check_model(model)
        assert {v.type.tensor_type.elem_type for v in [*model.graph.input, *model.graph.output]} == {
            onnx.TensorProto.FLOAT}
        assert weights in {i.data_type for i in model.graph.initializer}
    half = onnxruntime.InferenceSession(str(tmp_path / "policy.fp16.onnx")).run(None, feeds)[0]
    assert half.shape == reference.shape and 0 < np.max(np.abs(half - reference)) < 1e-3

def test_latency_percentiles_and_histogram() -> None:
    stats = LatencyStats([0.001 * (i + 1) for i in range(100)])
    summary = stats.summary()
    assert summary["calls"] == 100 and 50 <= summary["p50_ms"] <= 51 and 99 <= summary["p99_ms"] <= 100
    assert sum(summary["histogram"]["counts"]) == 100 and len(summary["histogram"]["edges_ms"]) == 21


def test_bench_lists_every_runtime_side_by_side(policy, capsys: pytest.CaptureFixture[str]) -> None:
    _, policy_dir = policy
    assert main(["policy", "bench", str(policy_dir), "--calls", "20", "--warmup", "2", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "torch[cpu]" in out and "onnxruntime[CPUExecutionProvider]" in out
    assert "tensorrt" in out and "skipped" in out  # no TensorRT here: said so, not hidden


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none here)")
def test_gpu_backends_agree_and_report_their_latency(policy) -> None:
    """torch CUDA vs ONNX Runtime (CUDA EP when onnxruntime-gpu is installed) vs TensorRT (where importable
    and an engine can be built): the same chunks within bounds; latency printed."""
    from dreamgen_core.policy.bench import bench_policy, format_bench

    _, policy_dir = policy
    runtimes = ["torch", "onnxruntime"]
    try:
        import tensorrt  # noqa: F401

        from dreamgen_core.policy.engine_build import build_engine

        build_engine(policy_dir, "fp32")
        runtimes.append("tensorrt")
    except ImportError as exc:
        print(f"TensorRT not tested: {exc}")
    rows = bench_policy(policy_dir, runtimes, calls=50, warmup=5)
    print("\n" + format_bench(rows))
    assert rows[0].backend.startswith("torch[cuda")
    for row in rows[1:]:
        assert row.act is not None and row.max_abs_diff is not None and row.max_abs_diff < 1e-2


def test_an_external_onnx_policy_plugs_in_by_a_hand_written_manifest(policy, tmp_path: Path) -> None:
    """A graph of someone else's making, its own tensor names, no noise nor state-mask input: the
    manifest maps roles to names and the onnxruntime runtime runs it. Its output is exactly half the
    normalized state, repeated H times, so the runtime's preprocessing and denormalization show."""
    from onnx import TensorProto, helper

    _, ours = policy
    graph = helper.make_graph(
        [helper.make_node("Unsqueeze", ["proprio", "axis"], ["row"]),
         helper.make_node("Expand", ["row", "chunk"], ["rows"]),
         helper.make_node("Mul", ["rows", "half"], ["pred"])],
        "external",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 1, 3, 32, 32]),
         helper.make_tensor_value_info("proprio", TensorProto.FLOAT, ["batch", 44]),
         helper.make_tensor_value_info("lang", TensorProto.FLOAT, ["batch", 32])],
        [helper.make_tensor_value_info("pred", TensorProto.FLOAT, ["batch", 16, 44])],
        [helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
         helper.make_tensor("chunk", TensorProto.INT64, [3], [1, 16, 1]),
         helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "external.onnx"))
    document = yaml.safe_load((ours / MANIFEST_FILE).read_text())  # norm, layout, embodiment: a real robot's
    document["io"] = {
        "inputs": {"image": {"name": "pixel_values", "shape": ["batch", 1, 3, 32, 32], "dtype": "float32"},
                   "state": {"name": "proprio", "shape": ["batch", 44], "dtype": "float32"},
                   "text": {"name": "lang", "shape": ["batch", 32], "dtype": "float32"}},
        "outputs": {"actions": {"name": "pred", "shape": ["batch", 16, 44], "dtype": "float32"}}}
    document["onnx"] = {"file": "external.onnx", "opset": 17,
                        "sha256": hashlib.sha256((tmp_path / "external.onnx").read_bytes()).hexdigest()}
    for optional in ("checkpoint", "export"):
        document.pop(optional)
    (tmp_path / MANIFEST_FILE).write_text(yaml.safe_dump(document, sort_keys=False))
    runtime = load_runtime(tmp_path, "auto")  # torch cannot run it (no checkpoint): said so, ORT chosen
    assert runtime.backend == "onnxruntime[CPUExecutionProvider]"
    assert runtime.selection["torch"].startswith("unavailable: no torch checkpoint")
    runtime.start_episode(TASKS[0].instruction)
    images, state = observation(3)
    chunk = runtime.act(images, state)
    expected = runtime.norm.denormalize_action(0.5 * runtime.norm.normalize_state(state))
    assert chunk.shape == (16, 44) and np.allclose(chunk, expected[None], atol=1e-5)
