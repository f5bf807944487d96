"""`dreamgen idm label` and `idm eval`: the temporal ensemble, frame order whatever the workers do, the scale
check, the labelled dataset read back by independent libraries, and replays in the sim (the recorded
expert's actions are the replay's own oracle)."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.idm.ensemble import temporal_ensemble
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.label import REPORT, LabelOptions, LabelReport, label_dreams
from dreamgen_core.idm.replay import Scene, scene_of
from dreamgen_core.idm.scale import check_scale, parse_range
from dreamgen_core.sim.expert import ARM

SPEC = load_embodiment("gr1")


def test_ensemble_is_the_mean_of_every_chunk_covering_a_frame() -> None:
    rng = np.random.default_rng(0)
    chunks = rng.normal(size=(7, 4, 3)).astype(np.float32)
    got = temporal_ensemble(chunks)
    for s in range(7):  # brute force: chunk t covers frames t..t+3
        covering = [chunks[t, s - t] for t in range(7) if 0 <= s - t < 4]
        np.testing.assert_allclose(got[s], np.mean(covering, axis=0), rtol=1e-6)
    assert got.shape == (7, 3) and got.dtype == np.float32
    with pytest.raises(IdmError, match="expected"):
        temporal_ensemble(np.zeros((0, 4, 3)))


def test_scale_check_names_the_joints_past_the_threshold(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(1)
    joints = ("a", "b", "c", "still")
    train_std = np.array([0.2, 0.2, 0.2, 0.0])
    labels = rng.normal(size=(500, 4)) * np.array([0.2, 0.05, 0.9, 0.0])  # b 4x too small, c 4.5x too large
    report = check_scale([labels[:200], labels[200:]], train_std, joints)
    assert report.flagged == ("b", "c") and not report.ok and report.frames == 500
    assert [j.joint for j in report.checked] == ["a", "b", "c"]  # a joint still in training is not judged
    assert "WARNING" in caplog.text and "b (0.2" in caplog.text and "c (4.5" in caplog.text
    assert check_scale([labels[:, :1]], train_std[:1], joints[:1]).ok
    assert parse_range("0.25,4") == (0.25, 4.0)
    with pytest.raises(IdmError):
        parse_range("2,0.5")



def test_scenes_come_from_provenance() -> None:
    task = "red_cube_to_green_target"
    assert scene_of({"source": "sim", "seed": 3, "task": task}) == Scene(3, task)
    assert scene_of({"origin": "dreamed", "scene": {"seed": 4, "task": task}}) == Scene(4, task)
    assert scene_of({"origin": "real", "source": "bag"}) is None and scene_of({"origin": "dreamed", "scene": None}) is None


# -- the pipeline on real files: sim demos, a tiny IDM, a tiny world model's dreams -----------------------------

TASK = "red_cube_to_green_target"
IDM_OVERRIDES = {"train.steps": 40}
DREAM_FPS = 16 / 13  # sim-tiny's dreams: 9 frames, 13 clip frames (0.81 s) apart
DREAM_FRAMES = 9


@pytest.fixture(scope="module")
def dreams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dreams as a perfect world model would dream them: from the first frames of held-out sim scenes (a
    `wm sim-clips` clip set), the scene's own future, sim-tiny's 9 frames at 16/13 fps, stored with their
    sidecars by `wm dream`'s own `store`. Two of the recorded task, one of a task without demos (dreamed from
    a red-cube scene, so its video shows the wrong cube moving)."""
    from dreamgen_core.sim.task import TASKS
    from dreamgen_core.video import decode_video
    from dreamgen_core.worldmodel.dream import Rendered, _encode, store
    from dreamgen_core.worldmodel.naming import dream_stem
    from dreamgen_core.worldmodel.prompts import PROMPTS_FILE, read_prompts
    from dreamgen_core.worldmodel.run import file_sha256
    from dreamgen_core.worldmodel.sidecar import DreamMeta
    from dreamgen_core.worldmodel.sim_clips import SimClipConfig, make_sim_clips

    root = tmp_path_factory.mktemp("dreams")
    clips = root / "clips"
    make_sim_clips(clips, SimClipConfig((1000, 1001), tuple(t for t in TASKS if t.name == TASK), (64, 64), workers=1),
                   progress=False)
    prompts = read_prompts(clips / PROMPTS_FILE)
    rows = [*prompts, replace(prompts[0], instruction=TASKS[3].instruction)]
    for index, prompt in enumerate(rows):
        video = clips / "videos" / f"{prompt.image.stem}.mp4"
        frames = decode_video(video).frames[::13][:DREAM_FRAMES]
        mp4 = _encode(frames, DREAM_FPS)
        stem = dream_stem(index, prompt.instruction)
        meta = DreamMeta(index=index, stem=stem, instruction=prompt.instruction, prompt=prompt.instruction,
                         negative_prompt="", seed=prompt.seed, steps=0, guidance=1.0,
                         initial_frame_sha256=file_sha256(prompt.image), backend="the scene itself (test)",
                         recipe="sim-tiny", recipe_sha256="", base=None, base_fingerprint="", weights_sha256=None,
                         mode="full", initial_frame=str(prompt.image), video=f"{stem}.mp4",
                         video_sha256=hashlib.sha256(mp4).hexdigest(), fps=DREAM_FPS, num_frames=len(frames),
                         height=64, width=64)
        store(root / "out", Rendered(mp4, meta))
    return root / "out"


@pytest.fixture(scope="module")
def ray_instance():
    """Ray starts once for the module; `label_dreams` joins it and leaves it running."""
    from dreamgen_core import ray_local

    ray = ray_local.start(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def idm_ckpt(sim_demos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny IDM trained briefly on the CPU on the shared sim demos: the mechanics of labelling and eval need
    an IDM, not a good one (that it beats the baselines when trained longer is test_idm_model's)."""
    import torch

    from dreamgen_core.idm.train import train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("idm") / "ckpt"
    train([sim_demos], out, overrides=IDM_OVERRIDES, device="cpu", progress=False)
    return out


@pytest.fixture(scope="module")
def labelled(dreams: Path, idm_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LabelReport]:
    out = tmp_path_factory.mktemp("labelled") / "dataset"
    return out, label_dreams(dreams, idm_ckpt, out, LabelOptions(progress=False, commit_every=2))


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file of a dataset but the label report (which records the completion order)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != REPORT}


def test_labelled_dreams_are_a_valid_gr00t_dataset(labelled: tuple[Path, LabelReport], idm_ckpt: Path,
                                                   dreams: Path) -> None:
    import av
    import pyarrow.parquet as pq

    from dreamgen_core.dataset import validate
    from dreamgen_core.idm.checkpoint import load_idm

    root, report = labelled
    assert report.labelled == [0, 1, 2] and report.skipped == []
    assert validate(root) == []
    idm = load_idm(idm_ckpt)
    modality = json.loads((root / "meta" / "modality.json").read_text())
    assert set(modality) >= {"state", "action", "video"} and modality["video"]["ego_view"]["original_key"] == \
        "observation.images.ego_view"
    tasks = [json.loads(line)["task"] for line in (root / "meta" / "tasks.jsonl").read_text().splitlines()]
    assert all(t.startswith("<DREAM> Use the right hand") for t in tasks if t != "valid")
    table = pq.read_table(root / "data" / "chunk-000" / "episode_000000.parquet")
    actions = np.array(table.column("action").to_pylist(), dtype=np.float32)
    state = np.array(table.column("observation.state").to_pylist())
    assert actions.shape == (146, SPEC.dim) and not state.any()  # 9 frames at 16/13 fps -> 146 at 20 fps
    with av.open(str(root / "videos" / "chunk-000" / "observation.images.ego_view" / "episode_000000.mp4")) as video:
        frames = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert len(frames) == 146 and frames[0].shape == (256, 256, 3)
    stats = json.loads((root / "meta" / "stats.json").read_text())["action"]
    np.testing.assert_allclose(stats["std"], idm.stats.std) and np.testing.assert_allclose(stats["min"], idm.stats.min)
    original = (root / "meta" / "provenance.json").read_text()
    provenance = json.loads(original)
    assert provenance["stats_source"]["action"]["content_hash"] == idm.content_hash
    first = provenance["episodes"][0]
    assert first["origin"] == "dreamed" and first["idm"]["content_hash"] == idm.content_hash
    assert (first["idm"]["k"], first["idm"]["horizon"]) == (idm.config.k, idm.config.horizon)
    assert first["dream"]["video_sha256"] == json.loads(next(dreams.glob("00000_*.json")).read_text())["video_sha256"]
    assert first["scene"] == {"seed": 1000, "task": TASK} and provenance["episodes"][2]["scene"]["seed"] == 1000
    assert "nearest-earlier" in first["labelling"]["resampling"]
    assert first["labelling"]["view_source"].startswith("clip set")
    # Stats that do not come from the data are accepted only as declared: without the declaration, named.
    provenance.pop("stats_source")
    (root / "meta" / "provenance.json").write_text(json.dumps(provenance))
    try:
        problems = validate(root)
        assert len(problems) == 1 and "stats_source" in problems[0] and "stale" in problems[0]
    finally:
        (root / "meta" / "provenance.json").write_text(original)
    assert validate(root) == []
    # Resuming: every dream is labelled already by this IDM.
    again = label_dreams(dreams, idm_ckpt, root, LabelOptions(progress=False))
    assert again.labelled == [] and again.skipped == [0, 1, 2]


def test_labels_do_not_depend_on_workers_or_completion_order(ray_instance, labelled: tuple[Path, LabelReport],
                                                             idm_ckpt: Path, dreams: Path, tmp_path: Path) -> None:
    """Several Ray workers, and labels arriving in reverse order, give the single worker's dataset bit for bit."""
    from dreamgen_core.idm.dreams import find_dreams
    from dreamgen_core.idm.label import InOrderWriter, Labeller, idm_identity

    serial, _ = labelled
    fanned = label_dreams(dreams, idm_ckpt, tmp_path / "ray", LabelOptions(workers=2, progress=False))
    assert fanned.actors == 2 and sorted(fanned.completion_order) == [0, 1, 2]
    assert tree_bytes(tmp_path / "ray") == tree_bytes(serial)
    items = find_dreams(dreams, SPEC)
    labeller = Labeller(idm_ckpt, "cpu", 1, 64)
    labels = [(item, labeller.label(item, item.video.read_bytes())) for item in items]
    report = LabelReport(tmp_path / "scrambled")
    writer = InOrderWriter(report, items, SPEC, idm_identity(idm_ckpt), commit_every=1)
    for item, actions in reversed(labels):
        writer.put(item, actions)
    writer.close()
    assert report.completion_order == [2, 1, 0] and report.labelled == [0, 1, 2]
    assert tree_bytes(tmp_path / "scrambled") == tree_bytes(serial)


def test_an_idm_whose_stats_do_not_match_its_data_is_named(labelled: tuple[Path, LabelReport], idm_ckpt: Path,
                                                           dreams: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """The reference bug: min/max from another dataset (here: the arm's ranges shrunk 4x around their middle,
    as stats of a smaller-motion task would be) rescale every label; the std check names the arm's joints."""
    import yaml

    _, good = labelled
    assert good.scale is not None and good.scale.ok, good.scale
    wrong = tmp_path / "wrong"
    shutil.copytree(idm_ckpt, wrong)
    config = yaml.safe_load((wrong / "idm.yaml").read_text())
    stats = config["stats"]
    arm = [SPEC.slot(name) for name in ARM]
    for i in arm:
        middle, half = (stats["max"][i] + stats["min"][i]) / 2, (stats["max"][i] - stats["min"][i]) / 8
        stats["min"][i], stats["max"][i] = middle - half, middle + half
    (wrong / "idm.yaml").write_text(yaml.safe_dump(config))
    report = label_dreams(dreams, wrong, tmp_path / "labelled", LabelOptions(progress=False))
    assert report.scale is not None and not report.scale.ok
    moving = {j.joint for j in report.scale.checked}
    assert set(report.scale.flagged) <= moving & set(ARM) and len(report.scale.flagged) >= 3
    assert "WARNING" in caplog.text and report.scale.flagged[0] in caplog.text
    saved = json.loads((tmp_path / "labelled" / REPORT).read_text())
    assert saved["scale"]["flagged"] == list(report.scale.flagged)



def test_eval_measures_against_baselines_replays_and_refuses_data_without_a_scene(
        sim_heldout: Path, idm_ckpt: Path, labelled: tuple[Path, LabelReport], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`idm eval` through the CLI on held-out sim demos: the baselines' errors are what an independent
    computation from the parquet files gives; the recorded actions replayed in the sim through the safety
    monitor solve the task and track the recorded trajectory (the replay's oracle); the labelled dreams replay
    from their scenes; report.json and eval.png are written; a dataset without sim scenes is refused a replay."""
    import pyarrow.parquet as pq

    from dreamgen_core.cli.main import main
    from dreamgen_core.idm.checkpoint import load_idm
    from dreamgen_core.idm.eval import EvalOptions, evaluate
    from dreamgen_core.idm.metrics import moving_joints

    out = tmp_path / "eval"
    assert main(["idm", "eval", str(sim_heldout), "--idm", str(idm_ckpt), "--out", str(out), "--episodes", "0",
                 "--replay", "1"]) == 0
    table = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    methods = {m["method"]: m for m in report["methods"]}
    frame = {m["method"]: m for m in report["per_frame"]}
    parquet = pq.read_table(sim_heldout / "data" / "chunk-000" / "episode_000000.parquet")
    action = np.array(parquet.column("action").to_pylist())
    state = np.array(parquet.column("observation.state").to_pylist())
    stats = load_idm(idm_ckpt).stats
    moving = moving_joints(stats)
    assert frame["hold_state"]["mae"] == pytest.approx(np.abs(state - action)[:, moving].mean(0).mean(), rel=1e-5)
    assert frame["mean_action"]["mae"] == pytest.approx(np.abs(stats.mean - action)[:, moving].mean(0).mean(),
                                                         rel=1e-5)
    index = np.minimum(np.arange(len(action))[:, None] + np.arange(16), len(action) - 1)
    held = np.abs(state[:, None] - action[index])[..., moving].mean((0, 1)).mean()
    assert methods["hold_state"]["mae"] == pytest.approx(held, rel=1e-5)
    assert all(np.isfinite(m["mae"]) and m["mae"] > 0 for m in [*methods.values(), *frame.values()])
    assert report["success"]["recorded"] == {"solved": 1, "replayed": 1}
    oracle = next(r["result"] for r in report["replays"] if r["actions"] == "recorded")
    assert oracle["tracking_rmse"] < 0.03 and oracle["held"] == 0
    assert report["success"]["idm labels"]["replayed"] == 1
    assert "hold_state" in table and "sim replay of recorded: 1/1" in table
    assert (out / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dreamed = evaluate(labelled[0], idm_ckpt, tmp_path / "dreams", EvalOptions(progress=False))
    assert dreamed.methods == [] and dreamed.success_rate("dream labels")[1] == 3
    from test_dataset_writer import build_dataset

    with pytest.raises(IdmError, match="no episode names a sim scene"):
        evaluate(build_dataset(tmp_path / "robot"), idm_ckpt, tmp_path / "robot_eval", EvalOptions(replay=1))
