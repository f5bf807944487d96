"""One closed-loop episode in the simulated GR1: a controller's targets → safety monitor → robot.

The loop is the robot's, without ROS: at the embodiment's control rate, the measured joint state
feeds the safety monitor (`observe`; the sim's camera streams all along, `observe_camera`), the
controller proposes targets, the monitor makes them safe (`step`: NaN rejection, position,
velocity, step and acceleration clamps, holds), and only what it returns reaches the robot. A fresh
monitor per episode on the controller's input: the policy's is operator-enabled at the start and
ramps in from the measured pose, and each of its commands carries the capture time of the
observation it came from (a chunk too old is held), exactly as `safety_monitor` treats it on the
robot; the baselines speak on the teleop input.

Success is the sim's own check (`SimRobot.task_state().success`: the cube resting flat inside its
target) holding for `success_hold_s` in a row; the episode ends then, when the controller is done and
the scene has settled, or at `max_episode_s`. Requiring the check to hold means a cube merely pushed
across the target does not count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dreamgen_core.policy.controllers import Controller
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.safety import POLICY, Rule, SafetyMonitor
from dreamgen_core.safety.events import OUT_OF_DISTRIBUTION
from dreamgen_core.safety.monitor import CLAMP_KINDS
from dreamgen_core.sim.monitored import monitored_step
from dreamgen_core.sim.robot import SimRobot
from dreamgen_core.sim.task import Task


@dataclass(frozen=True)
class RolloutConfig:
    max_episode_s: float = 15.0   # the expert's plans take 6-9 s
    success_hold_s: float = 1.0
    settle_s: float = 1.0         # after a controller is done, before judging


@dataclass(frozen=True)
class EpisodeResult:
    controller: str
    task: str
    seed: int
    success: bool
    seconds: float               # simulated
    cube_to_target_m: float      # planar distance at the end
    clamped: int                 # ticks whose command the monitor clamped (position, velocity, step, acceleration)
    holds: int                   # ticks whose command the monitor replaced by a hold
    out_of_distribution: int = 0  # ticks whose target left the training actions' [q01, q99] (a warning)
    video: str = ""              # rollout mp4, relative to the report, when filmed


def rollout(robot: SimRobot, controller: Controller, task: Task, seed: int, config: RolloutConfig,
            observe: Callable[[], None] = lambda: None, rules: list[Rule] | None = None) -> EpisodeResult:
    """Run one episode of `task` on `seed`; `observe` runs after every control period (e.g. to film);
    `rules`: the monitor's (default: the envelope's `default_rules`)."""
    spec = robot.spec
    names = list(spec.joint_names)
    control_hz = spec.rates.control_hz
    robot.reset(seed, task)
    monitor = SafetyMonitor.from_spec(spec, rules, source=controller.source)
    controller.start(robot, seed)
    start = robot.time
    if controller.source == POLICY:
        enabled = monitor.enable(True, dict(zip(names, robot.positions().tolist())), start)
        if not enabled.ok:
            raise PolicyError(f"the safety monitor did not enable the policy: {enabled.message}")
    held = settled = clamped = ood = 0
    success = False
    observe()
    for tick in range(round(config.max_episode_s * control_hz)):
        target = controller.command(robot, tick)
        verdict = monitored_step(robot, monitor, target, controller.source, controller.stamp_s)
        clamped += any(event.kind in CLAMP_KINDS for event in verdict.events)
        ood += any(event.kind == OUT_OF_DISTRIBUTION for event in verdict.events)
        observe()
        held = held + 1 if robot.task_state().success else 0
        if held >= config.success_hold_s * control_hz:
            success = True
            break
        settled = settled + 1 if controller.done() else 0
        if settled >= config.settle_s * control_hz:
            break
    state = robot.task_state()
    distance = float(np.hypot(*(np.asarray(state.cube_pos[:2]) - np.asarray(state.target_pos[:2]))))
    return EpisodeResult(controller.name, task.name, seed, success, robot.time - start, distance, clamped,
                         monitor.held, ood)
