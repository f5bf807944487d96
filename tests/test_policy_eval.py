"""Closed-loop evaluation in the simulated GR1 (`dreamgen policy eval`): can the evaluator tell success?

The acceptance test: on the same held-out seeds, through the same safety monitor, the scripted expert
succeeds on ≥ 90 % of the episodes and a random policy on ~0 %. Read back with json and OpenCV.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from dreamgen_core.policy.controllers import ReplayController, mean_trajectories
from dreamgen_core.policy.eval import REPORT_FILE, EvalConfig, evaluate, format_table
from dreamgen_core.policy.rollout import RolloutConfig
from dreamgen_core.sim.task import TASKS

SEEDS = (1000, 1001)                          # held out: the sim datasets of the tests record seeds 0..
QUICK = RolloutConfig(max_episode_s=9.0)      # the expert succeeds by ~7 s, then holds success 1 s


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("eval") / "report"
    config = EvalConfig(TASKS, SEEDS, ("expert", "random"), rollout=QUICK, workers=2, videos=1)
    return out, evaluate(out, config, progress=False)


def test_expert_succeeds_and_random_fails_on_the_same_seeds(baselines) -> None:
    out, report = baselines
    print("\n" + format_table(report))
    stored = json.loads((out / REPORT_FILE).read_text())
    episodes = len(TASKS) * len(SEEDS)
    assert stored["success"]["expert"][TASKS[0].name]["episodes"] == len(SEEDS)
    assert sum(c["successes"] for c in stored["success"]["expert"].values()) >= 0.9 * episodes
    assert sum(c["successes"] for c in stored["success"]["random"].values()) <= 0.1 * episodes
    # the seeds are the same for both, episode by episode
    pairs = {(e["task"], e["seed"]) for e in stored["episodes"] if e["controller"] == "expert"}
    assert pairs == {(e["task"], e["seed"]) for e in stored["episodes"] if e["controller"] == "random"}
    # a failed episode ends with its cube off the target, a successful one on it (sim radius 0.05 m)
    for e in stored["episodes"]:
        assert (e["cube_to_target_m"] < 0.05) or not e["success"]


def test_report_plot_and_videos_read_back(baselines) -> None:
    out, report = baselines
    plot = cv2.imread(str(out / "success.png"))
    assert plot is not None and plot.shape[0] > 200 and plot.shape[1] > 400
    filmed = [e for e in report.episodes if e.video]
    assert sorted(e.controller for e in filmed) == ["expert", "random"]  # the first episode of each
    assert all((e.task, e.seed) == (TASKS[0].name, SEEDS[0]) for e in filmed)
    video = cv2.VideoCapture(str(out / filmed[0].video))
    frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = video.read()
    assert ok and frame.shape == (200, 320, 3)
    assert frames == round(filmed[0].seconds * 20) + 1  # the first frame, then one per control period


def test_mean_replay_is_the_mean_of_the_demos_cut_to_the_median_length() -> None:
    a = np.zeros((4, 2))
    b = np.ones((6, 2))
    c = np.full((5, 2), 2.0)
    mean = mean_trajectories({"t": [a, b, c]})["t"]
    assert mean.shape == (5, 2)
    assert np.allclose(mean[:4], 1.0) and np.allclose(mean[4], 1.0)  # a padded with its last row (0)
    steps = np.arange(6, dtype=float)[:, None] * np.ones((1, 2))
    replay = ReplayController({"t": steps}, action_fps=10.0, control_hz=20.0)
    replay.start(SimpleNamespace(task=SimpleNamespace(name="t")), seed=0)  # type: ignore[arg-type]
    # actions at 10 fps under a 20 Hz loop: each held two ticks, the last one held after the end
    assert [replay.command(None, tick)[0] for tick in (0, 1, 2, 3, 11, 50)] == [0, 0, 1, 1, 5, 5]  # type: ignore[arg-type]
