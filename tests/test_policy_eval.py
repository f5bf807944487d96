"""Closed-loop evaluation in the simulated GR1 (`dreamgen policy eval`): can the evaluator tell success?

The acceptance test: on the same held-out seeds, through the same safety monitor, the scripted expert
succeeds on ≥ 90 % of the episodes and a random policy on ~0 %; a policy trained for a few steps on a
tiny sim dataset (two of the four tasks, seed 0) runs beside them through the CLI and its rates
are printed (no bound on them: such a policy is not expected to succeed yet), with the mean-replay
baseline of the two tasks that have demos. Read back with json and OpenCV.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from dreamgen_core.cli.main import main
from dreamgen_core.policy.config import PolicyConfig, with_overrides
from dreamgen_core.policy.controllers import ReplayController, mean_trajectories
from dreamgen_core.policy.eval import REPORT_FILE
from dreamgen_core.policy.rollout import RolloutConfig
from dreamgen_core.policy.train import train_policy
from dreamgen_core.sim.dataset import record_sim_dataset
from dreamgen_core.sim.task import TASKS

SEEDS = (1000,)                               # held out: the demos below are seed 0 (4 tasks x 1 seed keep it fast)
QUICK = RolloutConfig(max_episode_s=9.0)      # the expert succeeds by ~7 s, then holds success 1 s


DEMO_TASKS = [TASKS[0].name, TASKS[3].name]
TINY = {"image_size": 32, "hidden": 64, "text.dim": 32, "horizon": 16, "train.steps": 40, "train.batch_size": 16,
        "train.checkpoint_every": 40}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(demos, exported policy): the expert's demos of two tasks, a policy trained on them briefly, exported."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("trained")
    record_sim_dataset(root / "demos", DEMO_TASKS, range(1), workers=2, progress=False)
    train_policy([root / "demos"], root / "ckpt", with_overrides(PolicyConfig(), TINY), device="cpu")
    assert main(["policy", "export", str(root / "ckpt"), "--out", str(root / "policy")]) == 0
    return root / "demos", root / "policy"


@pytest.fixture(scope="module")
def baselines(trained: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    demos, policy = trained
    out = tmp_path_factory.mktemp("eval") / "report"
    # the CLI, as a user runs it: held-out seeds, every task, the policy and all baselines; in this process
    # (worker processes would import torch, ONNX Runtime and MuJoCo again: most of a short run on 2 cores)
    assert main(["policy", "eval", str(policy), "--sim", "--episodes", str(len(SEEDS)), "--baselines",
                 "expert,mean_replay,random", "--dataset", str(demos), "--max-episode-s", str(QUICK.max_episode_s),
                 "--videos", "1", "--workers", "1", "--out", str(out)]) == 0
    return out, json.loads((out / REPORT_FILE).read_text())


def test_expert_succeeds_and_random_fails_on_the_same_seeds(baselines) -> None:
    _, stored = baselines
    print("\ntrained policy (40 steps on 2 demos each of 2 tasks), success per task:",
          {task: f"{c['successes']}/{c['episodes']}" for task, c in stored["success"]["policy"].items()})
    episodes = len(TASKS) * len(SEEDS)
    assert stored["success"]["expert"][TASKS[0].name]["episodes"] == len(SEEDS)
    assert sum(c["successes"] for c in stored["success"]["expert"].values()) >= 0.9 * episodes
    assert sum(c["successes"] for c in stored["success"]["random"].values()) <= 0.1 * episodes
    # the seeds are the same for both, episode by episode
    pairs = {(e["task"], e["seed"]) for e in stored["episodes"] if e["controller"] == "expert"}
    for controller in ("random", "policy"):
        assert pairs == {(e["task"], e["seed"]) for e in stored["episodes"] if e["controller"] == controller}
    # mean replay only where demos exist; the policy ran on ONNX Runtime and its latency was recorded
    assert sorted(stored["success"]["mean_replay"]) == sorted(DEMO_TASKS)
    assert stored["runtime"] == "onnxruntime[CPUExecutionProvider]" and stored["policy_latency"]["calls"] > 0
    # a failed episode ends with its cube off the target, a successful one on it (sim radius 0.05 m)
    for e in stored["episodes"]:
        assert (e["cube_to_target_m"] < 0.05) or not e["success"]


def test_report_plot_and_videos_read_back(baselines) -> None:
    out, stored = baselines
    plot = cv2.imread(str(out / "success.png"))
    assert plot is not None and plot.shape[0] > 200 and plot.shape[1] > 400
    filmed = [e for e in stored["episodes"] if e["video"]]
    assert sorted(e["controller"] for e in filmed) == ["expert", "mean_replay", "policy", "random"]  # 1 each
    for episode in filmed:
        video = cv2.VideoCapture(str(out / episode["video"]))
        frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, frame = video.read()
        assert ok and frame.shape == (200, 320, 3)
        assert frames == round(episode["seconds"] * 20) + 1  # the first frame, then one per control period


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
