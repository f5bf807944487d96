"""Detectors: small pure objects that inspect a proposed command and report violations.

A detector only finds problems; what to do about them is the strategy it is paired with in a
`Rule` (see monitor.py), so the same finding can clamp on one deployment and hold on another.
Later detectors (e-stop latch, stale joint states or camera, acceleration, out-of-distribution)
implement the same `inspect` and read what they need from the `Context`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

from dreamgen_core.safety.context import Context
from dreamgen_core.safety.events import NON_FINITE, POSITION_LIMIT, VELOCITY_LIMIT, Violation

# Float round-off on a clamped value must not be reported as a fresh violation on the next step.
TOLERANCE = 1e-9


class Detector(Protocol):
    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]: ...


class NonFiniteDetector:
    """NaN or Inf anywhere: the source is broken, so no value of the command can be trusted."""

    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]:
        return [Violation(NON_FINITE, name, value) for name, value in command.items() if not math.isfinite(value)]


class PositionLimitDetector:
    """Targets outside the joint's limits minus its margin."""

    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]:
        found = []
        for name, value in command.items():
            bounds = ctx.envelope.joints[name]
            if value < bounds.lower - TOLERANCE or value > bounds.upper + TOLERANCE:
                found.append(Violation(POSITION_LIMIT, name, value, bounds.clip(value)))
        return found


class VelocityLimitDetector:
    """Targets farther from the current reference than the joint may travel in `ctx.step_s`."""

    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]:
        found = []
        for name, value in command.items():
            reference = ctx.reference[name]
            reach = ctx.envelope.joints[name].max_velocity * ctx.step_s
            if abs(value - reference) > reach + TOLERANCE:
                bound = reference + math.copysign(reach, value - reference)
                found.append(Violation(VELOCITY_LIMIT, name, value, bound))
        return found


class SourceWatchdog:
    """Detects a silent input: nothing fed for `timeout_s` (or nothing yet). The monitor keeps one for
    the command source and one for the joint states."""

    def __init__(self, timeout_s: float) -> None:
        if not timeout_s > 0:
            raise ValueError(f"source timeout must be > 0 s, got {timeout_s}")
        self.timeout_s = timeout_s
        self.last_s: float | None = None

    def feed(self, now_s: float) -> None:
        self.last_s = now_s

    def silent(self, now_s: float) -> bool:
        return self.last_s is None or now_s - self.last_s >= self.timeout_s
