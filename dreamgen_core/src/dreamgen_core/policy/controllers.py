"""What drives the simulated GR1 in a closed-loop evaluation: the policy and its baselines.

Every controller answers one question per control tick, `command(robot, tick)`: absolute joint
targets (layout order) for this tick. The rollout loop (`rollout.py`) sends them through the safety
monitor, as on the robot, so all controllers are measured under the same envelope: the policy on the
monitor's policy input (operator-enabled, ramped in, its chunks' observation age checked), the
baselines on the teleop input, as the scripted teleop of `make demo` drives the robot.

- `PolicyController`: the exported policy through a `PolicyRuntime`. It renders the head camera,
  maps it to the model view (the converter's `ModelViewTransform`, so the policy sees the pixels it
  was trained on), asks for a chunk of H actions, executes the first `execute` of them at the
  dataset's action rate, then asks again (receding horizon; the reference robot loop executes 12 of
  16). The sim waits for inference: latency costs nothing here, which `deploy` measures instead.
- `ExpertController`: the scripted expert with ground truth of the scene (an upper bound, and the
  check that the evaluator can tell success).
- `ReplayController`: one fixed trajectory per task, open loop (the mean of the training demos:
  what a policy that ignores its camera could at best do).
- `RandomController`: a uniform random target in the envelope every `execute` ticks (the floor).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from dreamgen_core.safety import POLICY, TELEOP, Envelope
from dreamgen_core.sim.expert import Phase, ScriptedExpert
from dreamgen_core.sim.robot import HeadCamera, SimRobot
from dreamgen_core.video import ModelViewTransform


class Runtime(Protocol):
    """The part of `policy.runtime.PolicyRuntime` a rollout uses."""

    def start_episode(self, instruction: str) -> None: ...

    def act(self, images: Mapping[str, np.ndarray], state: np.ndarray, seed: int = 0) -> np.ndarray: ...


class Controller(Protocol):
    name: str
    source: str            # the safety monitor's input it speaks on: TELEOP, or POLICY (enabled, ramped in)
    stamp_s: float | None  # capture time of the observation the current command came from (policy chunks)

    def start(self, robot: SimRobot, seed: int) -> None:
        """A new episode begins (the robot was just reset to its task and seed)."""

    def command(self, robot: SimRobot, tick: int) -> np.ndarray:
        """Absolute joint targets [D] for control tick `tick` (0 at the episode's start)."""

    def done(self) -> bool:
        """Nothing more to do this episode (the expert's plan ran out); the rollout lets the scene settle."""


class PolicyController:
    name = "policy"
    source = POLICY

    def __init__(self, runtime: Runtime, cameras: Mapping[str, HeadCamera], transforms: Mapping[str, ModelViewTransform],
                 execute: int, action_fps: float, control_hz: float) -> None:
        """`cameras`/`transforms`: per dataset video key the policy reads, the camera and its model view."""
        self.runtime, self.cameras, self.transforms = runtime, cameras, transforms
        self.execute, self.action_fps, self.control_hz = execute, action_fps, control_hz
        self._chunk = np.zeros((0, 0), dtype=np.float32)
        self._asked_at = 0
        self._seed = 0
        self.queries = 0
        self.stamp_s: float | None = None

    def start(self, robot: SimRobot, seed: int) -> None:
        self.runtime.start_episode(robot.task.instruction)
        self._chunk = np.zeros((0, 0), dtype=np.float32)
        self._seed = seed
        self.queries = 0
        self.stamp_s = None

    def _index(self, tick: int) -> int:
        """The chunk step due at `tick`: chunk[k] is the action for k/action_fps after the query."""
        return int((tick - self._asked_at) * self.action_fps / self.control_hz + 1e-9)

    def command(self, robot: SimRobot, tick: int) -> np.ndarray:
        if not len(self._chunk) or self._index(tick) >= min(self.execute, len(self._chunk)):
            images = {key: self.transforms[key](camera.render()) for key, camera in self.cameras.items()}
            # A distinct, reproducible noise draw per query: seed and tick name it.
            self._chunk = self.runtime.act(images, robot.positions(), seed=self._seed * 100_003 + tick)
            self._asked_at = tick
            self.stamp_s = robot.time
            self.queries += 1
        return np.asarray(self._chunk[self._index(tick)], dtype=np.float64)

    def done(self) -> bool:
        return False


class ExpertController:
    source = TELEOP
    stamp_s: float | None = None

    name = "expert"

    def __init__(self, expert: ScriptedExpert) -> None:
        self.expert = expert

    def start(self, robot: SimRobot, seed: int) -> None:
        self.expert.start(robot.task_state(), robot.positions(), robot.time)

    def command(self, robot: SimRobot, tick: int) -> np.ndarray:
        return self.expert.act(robot.time)

    def done(self) -> bool:
        return self.expert.phase is Phase.DONE


class ReplayController:
    """Replays `trajectories[task name]` ([T, D] at `action_fps`), holding its last row after the end."""

    name = "mean_replay"
    source = TELEOP
    stamp_s: float | None = None

    def __init__(self, trajectories: Mapping[str, np.ndarray], action_fps: float, control_hz: float) -> None:
        self.trajectories, self.action_fps, self.control_hz = dict(trajectories), action_fps, control_hz
        self._current = np.zeros((1, 0))

    def start(self, robot: SimRobot, seed: int) -> None:
        self._current = self.trajectories[robot.task.name]

    def command(self, robot: SimRobot, tick: int) -> np.ndarray:
        index = min(int(tick * self.action_fps / self.control_hz + 1e-9), len(self._current) - 1)
        return np.asarray(self._current[index], dtype=np.float64)

    def done(self) -> bool:
        return False


class RandomController:
    """A new uniform random target inside the envelope every `execute` ticks, seeded by the episode."""

    name = "random"
    source = TELEOP
    stamp_s: float | None = None

    def __init__(self, envelope: Envelope, execute: int) -> None:
        self.low = np.array([envelope.joints[n].lower for n in envelope.joint_names])
        self.high = np.array([envelope.joints[n].upper for n in envelope.joint_names])
        self.execute = execute
        self._rng = np.random.default_rng(0)
        self._target = self.low

    def start(self, robot: SimRobot, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def command(self, robot: SimRobot, tick: int) -> np.ndarray:
        if tick % self.execute == 0:
            self._target = self._rng.uniform(self.low, self.high)
        return self._target

    def done(self) -> bool:
        return False


def mean_trajectories(episodes: Mapping[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Per task, the mean of its action trajectories aligned at their start, each padded with its last
    row to the longest; cut to the median length (past it, few demos are still moving)."""
    means = {}
    for task, trajectories in episodes.items():
        if not trajectories:
            continue
        longest = max(len(t) for t in trajectories)
        padded = np.stack([np.concatenate([t, np.repeat(t[-1:], longest - len(t), axis=0)]) for t in trajectories])
        means[task] = padded.mean(axis=0)[: int(np.median([len(t) for t in trajectories]))]
    return means
