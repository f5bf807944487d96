"""One control period of the simulated GR1 behind a SafetyMonitor, as the real robot runs it.

The measured joint state (and the head camera, which streams all along in the sim) feed the monitor,
the proposed target goes through it, only what it forwards reaches the robot, and physics runs one
control period. Closed-loop policy rollouts and the IDM's replays of labelled actions share it, so
neither can reach the simulated robot around the monitor.
"""

from __future__ import annotations

import numpy as np

from dreamgen_core.safety import TELEOP, SafetyMonitor
from dreamgen_core.safety.monitor import Verdict
from dreamgen_core.sim.robot import SimRobot


def _physics_steps(robot: SimRobot) -> int:
    """Physics steps per control period of the robot's embodiment."""
    return max(1, round(1.0 / (robot.spec.rates.control_hz * robot.timestep)))


def monitored_step(robot: SimRobot, monitor: SafetyMonitor, target: np.ndarray, source: str = TELEOP,
                   stamp_s: float | None = None) -> Verdict:
    """Propose `target` (layout order) from `source` at the robot's current time, execute what the monitor
    forwards, advance one control period; returns the monitor's verdict."""
    names = robot.spec.joint_names
    now = robot.time
    monitor.observe(now)
    monitor.observe_camera(now)
    verdict = monitor.step(dict(zip(names, target.tolist())), dict(zip(names, robot.positions().tolist())), now,
                           source, stamp_s)
    if verdict.command is not None:
        robot.command(list(verdict.command), list(verdict.command.values()))
    robot.step(_physics_steps(robot))
    return verdict
