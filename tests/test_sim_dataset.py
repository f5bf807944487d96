"""`dreamgen sim dataset`: the scripted expert's demos as a GR00T dataset without ROS, read back by
DatasetReader and independently (pyarrow, PyAV, OpenCV), checked against a separate run of the expert;
re-runs add nothing; failures are left out and listed; bad input names the value."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

import dreamgen_core.sim  # noqa: F401  (headless MuJoCo before mujoco is imported)
from dreamgen_core.cli.main import main
from dreamgen_core.config import ConfigError
from dreamgen_core.dataset import DatasetReader, validate
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.sim.dataset import record_sim_dataset
from dreamgen_core.sim.expert import ScriptedExpert, run_episode
from dreamgen_core.sim.robot import SimRobot
from dreamgen_core.sim.task import TASKS, tasks_named

SPEC = load_embodiment("gr1")
TASK_NAMES = ("red_cube_to_green_target", "blue_cube_to_yellow_target")
SEEDS = (0, 1)
FAILING = (1008, "blue_cube_to_yellow_target")  # the expert fails this one (see test_wm_sim_clips)
RAW, VIEW = "observation.images.egoview", "observation.images.ego_view"
# The timing columns `dreamgen convert` writes (convert/episode.py): a sim dataset has the same features.
TIMING = {"observation.frame_time_ns": "int64"} | {
    f"observation.{what}.{source}": dtype for source in ("joint_states", "teleop_command", "ego_view")
    for what, dtype in (("capture_stamp_ns", "int64"), ("age_s", "float32"))}
RIGHT_ARM = [SPEC.slot(n) for n in ("right_shoulder_pitch_joint", "right_shoulder_roll_joint", "right_elbow_pitch_joint")]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("simdata") / "demos"
    # Two workers and a commit every 3 episodes: the pool and a resumed (second) commit both run.
    report = record_sim_dataset(out, TASK_NAMES, SEEDS, workers=2, commit_every=3, progress=False)
    return out, report


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / mse))


def test_every_episode_validates_and_reads_back(recorded) -> None:
    out, report = recorded
    assert [(e.seed, e.task, e.status) for e in report.episodes] == [
        (s, t, "added") for s in SEEDS for t in TASK_NAMES]
    assert validate(out) == []
    reader = DatasetReader(out)
    assert reader.fps == 20 and reader.embodiment == "gr1" and reader.embodiment_hash == SPEC.content_hash
    assert reader.video_keys == [VIEW, RAW] and reader.model_view_key == VIEW
    instructions = {t.name: t.instruction for t in TASKS}
    for episode, (seed, task) in zip(reader.episodes, [(s, t) for s in SEEDS for t in TASK_NAMES]):
        assert episode.success is True and episode.task == instructions[task]
        assert {k: episode.provenance[k] for k in ("origin", "source", "task", "seed")} == {
            "origin": "real", "source": "sim", "task": task, "seed": seed}
        arrays = reader.arrays(episode.index)
        assert arrays.state.shape == arrays.action.shape == (episode.length, SPEC.dim)
        assert 100 < episode.length < 300  # 1 s still + a 6-9 s push + 0.5 s settling, at 20 fps
        assert reader.frames(episode.index).shape == (episode.length, 256, 256, 3)


def test_columns_and_videos_read_independently(recorded) -> None:
    out, _ = recorded
    features = DatasetReader(out).info["features"]
    assert {k: f["dtype"] for k, f in features.items() if k.startswith("observation.") and f["dtype"] != "video"
            and k != "observation.state"} == TIMING
    assert features[RAW]["shape"] == [200, 320, 3] and features[VIEW]["shape"] == [256, 256, 3]
    for index in (0, 3):
        table = pq.read_table(out / f"data/chunk-000/episode_{index:06d}.parquet")
        n = table.num_rows
        state = np.array(table.column("observation.state").to_pylist())
        assert state.shape == (n, SPEC.dim)
        np.testing.assert_array_equal(table.column("observation.frame_time_ns").to_numpy(), np.arange(n) * 50_000_000)
        for source in ("joint_states", "teleop_command", "ego_view"):  # every sample taken at its frame time
            assert (table.column(f"observation.age_s.{source}").to_numpy() == 0).all()
        with av.open(str(out / f"videos/chunk-000/{RAW}/episode_{index:06d}.mp4")) as container:
            assert sum(1 for _ in container.decode(video=0)) == n
        capture = cv2.VideoCapture(str(out / f"videos/chunk-000/{VIEW}/episode_{index:06d}.mp4"))
        frames = 0
        while capture.read()[0]:
            frames += 1
        capture.release()
        assert frames == n


def expert_episode(seed: int, task: str):
    """The same episode run here, straight from the sim: states, commands in force, first frame."""
    robot, expert = SimRobot(SPEC), ScriptedExpert(SPEC)
    robot.reset(seed, tasks_named([task])[0])
    camera = robot.renderer(320, 200)
    first = camera.render()
    states, commands = [], []
    success = run_episode(robot, expert, SPEC.rates.control_hz, settle_s=0.5,
                          observe=lambda: states.append(robot.positions()), command=commands.append)
    camera.close()
    commands += [commands[-1]] * (len(states) - len(commands))  # settling: the last targets are held
    return success, np.array(states, np.float32), np.array(commands, np.float32), first


def test_rows_are_the_expert_run_and_actions_lead_the_state(recorded) -> None:
    out, _ = recorded
    reader = DatasetReader(out)
    success, states, commands, first = expert_episode(SEEDS[1], TASK_NAMES[0])
    arrays = reader.arrays(2)  # seed 1, first task
    assert success
    # Not bit-exact: the worker's sim clock had run on from earlier episodes (time enters the plan).
    np.testing.assert_allclose(arrays.state, states, atol=1e-4)
    np.testing.assert_allclose(arrays.action, commands, atol=1e-4)
    assert psnr(reader.frames(2, RAW)[0], first) > 30
    # The action is the target the arm is about to reach: the position servos reach it within one
    # control period, so the next frame's state matches it far better than the same frame's, and
    # better than any later one (measured: 0.001-0.002 rad at lag 1, 0.007-0.017 rad at lag 0).
    n = len(arrays.state) - 4
    lag = [np.abs(arrays.action[:n, RIGHT_ARM] - arrays.state[k:n + k, RIGHT_ARM]).mean() for k in range(4)]
    assert np.abs(arrays.action - arrays.state).max() > 0.05
    assert int(np.argmin(lag)) == 1 and lag[1] < 0.3 * lag[0], lag


def test_a_rerun_adds_nothing_and_failures_are_left_out_and_listed(recorded) -> None:
    out, _ = recorded
    before = tree_digest(out)
    again = record_sim_dataset(out, TASK_NAMES, SEEDS, progress=False)
    assert again.added == [] and len(again.present) == 4 and again.failed == []
    seed, task = FAILING
    more = record_sim_dataset(out, [task], [*SEEDS, seed], progress=False)
    assert [(e.seed, e.status) for e in more.episodes] == [(0, "present"), (1, "present"), (seed, "failed")]
    assert tree_digest(out) == before
    assert len(DatasetReader(out).episodes) == 4


def test_bad_tasks_and_seeds_name_the_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="'purple_cube_to_green_target': unknown task; known: all, "
                                          "red_cube_to_green_target, "):
        record_sim_dataset(tmp_path / "x", ["purple_cube_to_green_target"], [0], progress=False)
    with pytest.raises(ConfigError, match="--seeds: seeds: .*none negative"):
        record_sim_dataset(tmp_path / "x", [TASK_NAMES[0]], [-1], progress=False)
    assert main(["sim", "dataset", str(tmp_path / "x"), "--tasks", "red_cube,blue_cube", "--seeds", "0:2"]) == 2
    assert "known: all, red_cube_to_green_target" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        main(["sim", "dataset", "--help"])
    assert "dreamgen sim dataset DEMOS --tasks" in capsys.readouterr().out
