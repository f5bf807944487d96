"""The MuJoCo GR1 behind a `GrxServer`: what Fourier's server would report and obey, from the sim.

Body targets (driver order, degrees) and stand-in hand commands (SDK units) become the sim's
position targets by name; the sim's measured joints go out as the server's state. `offsets`
imitates a robot whose encoders are off by the calibration's offsets (reading = true − offset),
so a bridge that applies them sees the sim's true angles. `serve` runs it as a process of its own
(tests); the sim_robot node calls `sync` from its own loop instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from dreamgen_core.calibration.robot import JointOffsets
from dreamgen_core.drivers.body_units import BodyUnits
from dreamgen_core.drivers.grx_server import GrxServer
from dreamgen_core.drivers.hands import SIDES, HandUnits
from dreamgen_core.sim.pacing import RealTimePacer
from dreamgen_core.sim.robot import SimRobot

NO_OFFSETS = JointOffsets(embodiment="", status="nominal", method="none", offsets_rad={})


def accept_all(names: list[str], positions: list[float]) -> bool:
    return True


class GrxStandIn:
    """`accept(names, rad)` may refuse a command (the sim_robot node's hold after a reset)."""

    def __init__(self, sim: SimRobot, server: GrxServer, offsets: JointOffsets = NO_OFFSETS,
                 accept: Callable[[list[str], list[float]], bool] = accept_all) -> None:
        self.sim = sim
        self.accept = accept
        self.server = server
        self.body = BodyUnits(sim.spec, offsets)
        self.hands = {side: HandUnits(sim.spec, side) for side in SIDES}
        self._applied = 0
        self._applied_hands: dict[str, list[float]] = {}
        self._index = {name: i for i, name in enumerate(sim.joint_names)}

    def sync(self) -> None:
        """Apply the newest targets to the sim, then publish its state."""
        state = self.server.take()
        if state.target_deg is not None and state.targets_received != self._applied:
            self._applied = state.targets_received
            targets = self.body.positions(state.target_deg)  # the same conversion a reading takes
            if self.accept(list(targets), list(targets.values())):
                self.sim.command(list(targets), list(targets.values()))
        for side, command in state.hand_commands.items():
            if command != self._applied_hands.get(side):
                self._applied_hands[side] = command
                targets = self.hands[side].from_sdk(command)
                self.sim.command(list(targets), list(targets.values()))
        self.publish()

    def publish(self) -> None:
        positions = dict(zip(self.sim.joint_names, self.sim.positions().tolist()))
        velocities = self.sim.velocities()
        order = self.body.joint_order
        self.server.publish_joints(self.body.command(positions),
                                   np.degrees([velocities[self._index[n]] for n in order]))
        for side, units in self.hands.items():
            self.server.publish_hand(side, units.to_sdk(positions))


def serve(standin: GrxStandIn, rate_hz: float, stop: threading.Event) -> None:
    """Step the sim in real time and `sync` at `rate_hz` (sim time) until `stop` is set."""
    sim = standin.sim
    steps = max(1, round(1.0 / (rate_hz * sim.timestep)))
    pacer = RealTimePacer(1.0, 1.0 / rate_hz, time.monotonic(), sim.time)
    while not stop.is_set():
        while sim.time + steps * sim.timestep <= pacer.goal(time.monotonic(), sim.time):
            sim.step(steps)
            standin.sync()
        stop.wait(steps * sim.timestep / 2)
