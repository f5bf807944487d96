"""Detectors: small pure objects that inspect a proposed command and report violations.

A detector only finds problems; what to do about them is the strategy it is paired with in a
`Rule` (see monitor.py), so the same finding can clamp on one deployment and hold on another.
Each reads what it needs from the `Context`; `reset()` forgets whatever a detector remembers
between steps (only the out-of-distribution detector remembers anything).

The motion detectors run as position -> velocity -> step delta -> acceleration -> position, each
clamping what the one before left: every interval contains the reference (or, for acceleration,
a point of the velocity-and-delta interval), so each clamp keeps what the earlier ones
established, and the final position clamp wins only where stopping in time is impossible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

from dreamgen_core.safety.context import Context
from dreamgen_core.safety.events import (
    ACCELERATION_LIMIT,
    NON_FINITE,
    OUT_OF_DISTRIBUTION,
    POSITION_LIMIT,
    STEP_DELTA,
    VELOCITY_LIMIT,
    Violation,
)

# Float round-off on a clamped value must not be reported as a fresh violation on the next step.
TOLERANCE = 1e-9


class Detector(Protocol):
    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]: ...

    def reset(self) -> None: ...


class Stateless:
    def reset(self) -> None:
        """Nothing remembered between steps."""


class NonFiniteDetector(Stateless):
    """NaN or Inf anywhere: the source is broken, so no value of the command can be trusted."""

    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]:
        return [Violation(NON_FINITE, name, value) for name, value in command.items() if not math.isfinite(value)]


class PositionLimitDetector(Stateless):
    """Targets outside the joint's limits minus its margin."""

    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]:
        found = []
        for name, value in command.items():
            bounds = ctx.envelope.joints[name]
            if value < bounds.lower - TOLERANCE or value > bounds.upper + TOLERANCE:
                found.append(Violation(POSITION_LIMIT, name, value, bounds.clip(value)))
        return found


class _ReachDetector(Stateless):
    kind = VELOCITY_LIMIT

    def reach(self, name: str, ctx: Context) -> float:
        raise NotImplementedError

    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]:
        found = []
        for name, value in command.items():
            reference = ctx.reference[name]
            reach = self.reach(name, ctx)
            if abs(value - reference) > reach + TOLERANCE:
                bound = reference + math.copysign(reach, value - reference)
                found.append(Violation(self.kind, name, value, bound))
        return found


class VelocityLimitDetector(_ReachDetector):
    """Targets farther from the current reference than the joint may travel in `ctx.step_s`."""

    def reach(self, name: str, ctx: Context) -> float:
        return ctx.envelope.joints[name].max_velocity * ctx.step_s


class StepDeltaDetector(_ReachDetector):
    """Targets farther from the reference than any one command may move the joint: a late command
    (up to the source timeout after the last) must not turn into one big step."""

    kind = STEP_DELTA

    def reach(self, name: str, ctx: Context) -> float:
        return ctx.envelope.joints[name].max_step_delta


class AccelerationLimitDetector(Stateless):
    """Targets whose step changes the last step's velocity by more than max_acceleration * step_s.

    The last velocity is first bounded by this step's reach (velocity and step delta), so the allowed
    interval always shares a point with the velocity clamp's: the two clamps never fight."""

    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]:
        found = []
        for name, value in command.items():
            bounds = ctx.envelope.joints[name]
            if math.isinf(bounds.max_acceleration):
                continue
            reach = bounds.reach(ctx.step_s)
            carried = min(max(ctx.velocity.get(name, 0.0) * ctx.step_s, -reach), reach)
            centre = ctx.reference[name] + carried
            slack = bounds.max_acceleration * ctx.step_s ** 2
            if abs(value - centre) > slack + TOLERANCE:
                found.append(Violation(ACCELERATION_LIMIT, name, value, centre + math.copysign(slack, value - centre)))
        return found


class OutOfDistributionDetector:
    """Targets outside the training data's [q01, q99] of a joint: the policy is extrapolating.

    Only a warning (paired with `Warn`), and only when a joint leaves the range, not on every step
    it stays outside: an operator should see it, the log should not drown in it."""

    def __init__(self, low: Mapping[str, float], high: Mapping[str, float]) -> None:
        self.low, self.high = dict(low), dict(high)
        self.outside: set[str] = set()

    def inspect(self, command: Mapping[str, float], ctx: Context) -> list[Violation]:
        found = []
        for name, value in command.items():
            if name not in self.low:
                continue
            out = not self.low[name] <= value <= self.high[name]
            if out and name not in self.outside:
                found.append(Violation(OUT_OF_DISTRIBUTION, name, value, None))
            (self.outside.add if out else self.outside.discard)(name)
        return found

    def reset(self) -> None:
        self.outside.clear()


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
