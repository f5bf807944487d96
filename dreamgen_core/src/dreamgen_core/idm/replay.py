"""Replay an episode's actions on the simulated GR1, through the safety envelope, from its initial scene.

The proof that labels are actions and not just numbers near the right ones: the scene of the
episode is rebuilt from its seed (`SimRobot.reset(seed, task)`: the same layout the recording or
the dream's first frame showed), every action is proposed to the robot's `SafetyMonitor` (the
rules the real robot runs: NaN hold, position clamp, per-step velocity clamp) at the control rate,
and what it forwards is what the sim executes. Then the last target is held for `settle_s` and the
task's own success check decides. Tracking error compares the measured joints with the recorded
trajectory (real episodes; a dream has none), over the joints that moved in it.

Actions arrive at the dataset's fps; when the control rate differs they are resampled
nearest-earlier (as clips are, `dataset.clips.resample_indices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dreamgen_core.dataset.clips import resample_indices
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.safety import SafetyMonitor
from dreamgen_core.sim.episodes import sim_worker
from dreamgen_core.sim.monitored import monitored_step
from dreamgen_core.sim.task import TASKS

SETTLE_S = 1.0       # the last target held this long before the success check (the cube comes to rest)
MOVING_STD = 1e-3    # rad: a recorded joint that moved less than this is left out of the tracking error


@dataclass(frozen=True)
class Scene:
    """The simulated scene an episode starts from: the seed that laid it out, and the task to check."""

    seed: int
    task: str  # a sim.task name

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "task": self.task}


def scene_of(provenance: dict[str, Any]) -> Scene | None:
    """The sim scene an episode's provenance names: a sim recording's ("source": "sim", seed, task) or a
    labelled dream's ("scene"); None when it has none (a real robot, a dream of an unknown scene)."""
    entry = provenance if provenance.get("source") == "sim" else provenance.get("scene")
    if not isinstance(entry, dict) or "seed" not in entry or "task" not in entry:
        return None
    return Scene(int(entry["seed"]), str(entry["task"]))


@dataclass(frozen=True)
class ReplayResult:
    seed: int
    task: str
    success: bool
    steps: int                      # control periods executed, settling included
    tracking_rmse: float | None     # rad over moving joints and frames; None without a recorded trajectory
    tracking_max: float | None      # rad, the worst joint at the worst frame
    clamped: int                    # clamp events: a joint of a command moved to its position or speed bound
    held: int                       # commands the monitor replaced by a hold


def replay(spec: Embodiment, scene: Scene, actions: np.ndarray, dataset_fps: float,
           recorded_state: np.ndarray | None = None, settle_s: float = SETTLE_S) -> ReplayResult:
    """Execute `actions` [T, D] (layout order, joint units) from `scene`; see the module doc."""
    task = next((t for t in TASKS if t.name == scene.task), None)
    if task is None:
        raise IdmError(f"scene task {scene.task!r}: not a sim task ({', '.join(t.name for t in TASKS)})")
    if actions.ndim != 2 or actions.shape[1] != spec.dim or not len(actions):
        raise IdmError(f"replay: actions {list(actions.shape)}: expected [T > 0, {spec.dim}]")
    control_hz = spec.rates.control_hz
    picks = resample_indices(len(actions), dataset_fps, control_hz)
    plan = np.concatenate([actions[picks], np.repeat(actions[-1:], round(settle_s * control_hz), axis=0)])
    robot = sim_worker(spec.name).robot
    robot.reset(scene.seed, task)
    monitor = SafetyMonitor.from_spec(spec)
    measured = []
    for target in plan:
        measured.append(robot.positions())
        monitored_step(robot, monitor, target)
    summary = monitor.summary()
    rmse, worst = _tracking(np.asarray(measured), recorded_state, picks)
    return ReplayResult(scene.seed, scene.task, robot.task_state().success, len(plan), rmse, worst,
                        int(summary["clamps"]), int(summary["holds_sent"]))


def _tracking(measured: np.ndarray, recorded: np.ndarray | None, picks: np.ndarray) -> tuple[float | None, float | None]:
    if recorded is None:
        return None, None
    reference = recorded[picks]
    moving = reference.std(axis=0) >= MOVING_STD
    if not moving.any():
        return 0.0, 0.0
    error = measured[:len(picks), moving] - reference[:, moving]
    return float(np.sqrt(np.mean(error ** 2))), float(np.abs(error).max())
