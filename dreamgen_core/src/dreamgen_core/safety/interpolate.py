"""Targets for a driver faster than the control rate: linear interpolation between enveloped commands.

A driver servoing at 200 Hz that receives a new target every 50 ms steps once per 50 ms; fed the
segment from where the target is now to the newest command, spread over one control period, it
moves smoothly. Every interpolated target lies on a segment between targets inside the envelope,
so it is inside too. A segment lasts one control period, or longer when a command arrives early
(jitter) and the rest of the previous segment would otherwise be crammed in: no joint's target
ever moves faster than the envelope's velocity bound. Holds are not interpolated: a hold (an
e-stop) goes out at once and stays.
"""

from __future__ import annotations

from collections.abc import Mapping


class CommandInterpolator:
    def __init__(self, period_s: float, max_velocity: Mapping[str, float]) -> None:
        if not period_s > 0:
            raise ValueError(f"interpolation period must be > 0 s, got {period_s}")
        self.period_s, self.max_velocity = period_s, dict(max_velocity)
        self.reset()

    def reset(self) -> None:
        self.start: dict[str, float] | None = None
        self.end: dict[str, float] | None = None
        self.since_s = 0.0
        self.duration_s = self.period_s

    def push(self, command: dict[str, float], now_s: float, hold: bool) -> None:
        """A command the monitor published at `now_s`; the next segment starts where the target is now."""
        here = self.at(now_s)
        self.start = dict(command) if hold or here is None else here
        self.end, self.since_s = dict(command), now_s
        slowest = max((abs(command[n] - self.start[n]) / self.max_velocity[n] for n in command), default=0.0)
        self.duration_s = max(self.period_s, slowest)

    def at(self, now_s: float) -> dict[str, float] | None:
        """The target for `now_s`, None before the first command."""
        if self.start is None or self.end is None:
            return None
        alpha = min(max((now_s - self.since_s) / self.duration_s, 0.0), 1.0)
        return {name: self.start[name] + alpha * (value - self.start[name]) for name, value in self.end.items()}
