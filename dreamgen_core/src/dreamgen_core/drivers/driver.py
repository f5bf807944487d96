"""What a robot driver node needs from a driver object, whatever the robot's SDK."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class Link(Enum):
    """The driver's connection to the robot, as diagnostics report it."""

    CONNECTING = "connecting"  # never had a state sample yet
    UP = "up"                  # fresh state samples arrive
    LOST = "lost"              # samples stopped: no joint states go out, commands are dropped


@dataclass(frozen=True)
class JointReading:
    """One measured state by joint name, in the embodiment's units (rad, rad/s), offsets applied."""

    positions: dict[str, float]
    velocities: dict[str, float]


class RobotDriver(Protocol):
    def start(self) -> None:
        """Begin connecting (in the background: a robot that is not up yet is not an error)."""

    def poll(self, now: float) -> JointReading | None:
        """The newest state if one arrived since the last call; `now` is monotonic seconds."""

    def command(self, targets: Mapping[str, float]) -> None:
        """Position targets by joint name in rad (the safety monitor's output)."""

    def set_enable(self, enable: bool) -> None:
        """Motors on or off."""

    @property
    def link(self) -> Link: ...

    def status(self) -> dict[str, str]:
        """Key/value diagnostics."""

    def close(self) -> None:
        """Disconnect; idempotent."""
