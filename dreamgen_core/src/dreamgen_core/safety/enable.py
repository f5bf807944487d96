"""Operator enable with ramp-in: a gated source (the policy) moves the robot only after an operator
enables it, and then blends in from the measured pose over `ramp_in_s`.

Why the ramp: the first chunk of a policy may start far from where the robot stands; the motion
clamps would still bound each step, but would drive the robot at its velocity limit straight
there. The ramp scales the policy's offset from the enable pose from 0 to 1 over `ramp_in_s`.
"""

from __future__ import annotations

from collections.abc import Mapping


class OperatorEnable:
    def __init__(self, ramp_in_s: float, gated: tuple[str, ...]) -> None:
        if not ramp_in_s >= 0:
            raise ValueError(f"ramp_in_s must be >= 0, got {ramp_in_s}")
        self.ramp_in_s, self.gated = ramp_in_s, gated
        self.reset()

    def reset(self) -> None:
        self.enabled = False
        self.since_s: float | None = None
        self.start: dict[str, float] = {}

    def enable(self, pose: Mapping[str, float], now_s: float) -> None:
        self.enabled, self.since_s, self.start = True, now_s, dict(pose)

    def admits(self, source: str) -> bool:
        return self.enabled or source not in self.gated

    def ramp(self, command: dict[str, float], source: str, now_s: float) -> dict[str, float]:
        """The command scaled in from the enable pose while the ramp lasts (gated sources only)."""
        if source not in self.gated or self.since_s is None or self.ramp_in_s == 0:
            return command
        alpha = min(max((now_s - self.since_s) / self.ramp_in_s, 0.0), 1.0)
        if alpha >= 1.0:
            return command
        return {name: self.start[name] + alpha * (value - self.start[name]) for name, value in command.items()}
