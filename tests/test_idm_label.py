"""`dreamgen idm label` and `idm eval`: the temporal ensemble, frame order whatever the workers do, the scale
check, the labelled dataset read back by independent libraries, and replays in the sim (the recorded
expert's actions are the replay's own oracle)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.idm.ensemble import temporal_ensemble
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.replay import Scene, replay, scene_of
from dreamgen_core.idm.scale import check_scale, parse_range

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



def test_replaying_the_experts_commands_solves_the_task_and_tracks_its_trajectory() -> None:
    """The replay's own oracle: the scripted expert's commands of a scene, replayed from that scene's seed through
    the safety monitor, solve the task and follow the measured trajectory closely; other actions do not."""
    from dreamgen_core.sim.episodes import run_seeded, sim_worker
    from dreamgen_core.sim.task import TASKS

    task = TASKS[0]
    worker = sim_worker("gr1")
    commands: list[np.ndarray] = []
    states: list[np.ndarray] = []
    assert run_seeded(worker, 1000, task, 0.5, observe=lambda: states.append(worker.robot.positions()),
                      command=lambda targets: commands.append(targets.copy()))
    actions, recorded = np.array(commands), np.array(states[:len(commands)])
    result = replay(SPEC, Scene(1000, task.name), actions, SPEC.rates.dataset_fps, recorded)
    assert result.success and result.steps == len(actions) + 20
    assert result.tracking_rmse is not None and result.tracking_rmse < 0.03 and result.held == 0
    still = replay(SPEC, Scene(1000, task.name), actions[:1].repeat(len(actions), 0), SPEC.rates.dataset_fps, recorded)
    assert not still.success and still.tracking_rmse is not None and still.tracking_rmse > 5 * result.tracking_rmse
    assert scene_of({"source": "sim", "seed": 3, "task": task.name}) == Scene(3, task.name)
    assert scene_of({"origin": "dreamed", "scene": {"seed": 4, "task": task.name}}) == Scene(4, task.name)
    assert scene_of({"origin": "real", "source": "bag"}) is None


# -- the pipeline on real files: sim demos, a tiny IDM, a tiny world model's dreams -----------------------------

TASK = "red_cube_to_green_target"
WM_RECIPE = """\
backend: pixel-wan
video: {height: 32, width: 32, num_frames: 3, frame_stride: 13, fps: 1.2307692307692308}
train: {mode: full, steps: 2, batch_size: 2, learning_rate: 0.05, checkpoint_every: 2, mixed_precision: "no",
        gradient_checkpointing: false}
sample: {steps: 2, guidance: 1.0}
tiny: {patch_size: [1, 8, 8], num_attention_heads: 2, attention_head_dim: 12, ffn_dim: 32, num_layers: 1,
       text_dim: 16, freq_dim: 16, vocab_size: 64, max_tokens: 24}
"""


@pytest.fixture(scope="module")
def dreams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dreams of a tiny world model (trained 2 steps on sim clips) from the first frames of held-out sim scenes,
    for the recorded task and one without demos: what `wm dream` writes, sidecars naming the clip set."""
    from dreamgen_core.sim.task import TASKS
    from dreamgen_core.worldmodel.dream import DreamOptions, dream
    from dreamgen_core.worldmodel.prompts import PROMPTS_FILE, read_prompts, write_prompts
    from dreamgen_core.worldmodel.sim_clips import SimClipConfig, make_sim_clips
    from dreamgen_core.worldmodel.train import train as train_wm

    root = tmp_path_factory.mktemp("dreams")
    clips = root / "clips"
    make_sim_clips(clips, SimClipConfig((1000, 1001), tuple(t for t in TASKS if t.name == TASK), (32, 32), workers=1),
                   progress=False)
    (root / "tiny.yaml").write_text(WM_RECIPE)
    train_wm(clips, root / "tiny.yaml", root / "run", device="cpu")
    prompts = read_prompts(clips / PROMPTS_FILE)
    other = TASKS[3].instruction  # blue cube onto the yellow target: no demos of it
    rows = [*prompts, *(replace(p, line=0, instruction=other) for p in prompts[:1])]
    write_prompts(root / "prompts.jsonl", rows)
    report = dream(root / "prompts.jsonl", root / "run", root / "out", DreamOptions(device="cpu", progress=False))
    assert not report.failures
    return root / "out"
