"""The safety monitor core: every command to the robot passes through `SafetyMonitor`.

It composes `Rule`s (a detector paired with a strategy) over a full, by-name command and keeps
the little state safety needs: the last sent target (the reference for per-step motion), a source
watchdog, and the latched hold pose. No ROS here; the `safety_monitor` node feeds it messages and
publishes what it returns. A later deploy monitor passes more rules (e-stop latch, ramp-in,
acceleration, stale inputs, OOD warnings) and more context; this class does not change for that.

Holds are latched: the hold pose is the measured pose when the hold began, re-sent unchanged
while it lasts. Re-reading the measured pose every tick would let a position controller's
steady-state error (gravity sag) walk the robot down, one tick at a time.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from dreamgen_core.embodiment import Embodiment
from dreamgen_core.safety.context import Context
from dreamgen_core.safety.detectors import (
    Detector,
    NonFiniteDetector,
    PositionLimitDetector,
    SourceWatchdog,
    VelocityLimitDetector,
)
from dreamgen_core.safety.envelope import Envelope
from dreamgen_core.safety.events import (
    MALFORMED,
    NO_MEASUREMENT,
    POSITION_LIMIT,
    SOURCE_SILENT,
    STALE_JOINT_STATES,
    UNKNOWN_JOINT,
    VELOCITY_LIMIT,
    SafetyEvent,
)
from dreamgen_core.safety.strategies import Clamp, Hold, Strategy

CLAMP_KINDS = (POSITION_LIMIT, VELOCITY_LIMIT)
WAITING = "waiting for joint states"
PASSING = "passing"
HOLD_STALE = f"holding ({STALE_JOINT_STATES})"


@dataclass(frozen=True)
class Rule:
    detector: Detector
    strategy: Strategy


def default_rules() -> list[Rule]:
    """The first envelope: reject NaN/Inf, then clamp position, then bound the per-step motion.

    Position before velocity: the velocity clamp moves from an in-envelope reference toward an
    in-envelope target, so its result stays inside the envelope.
    """
    return [Rule(NonFiniteDetector(), Hold()), Rule(PositionLimitDetector(), Clamp()),
            Rule(VelocityLimitDetector(), Clamp())]


class Verdict(NamedTuple):
    """The command to publish (every envelope joint, in layout order) or None when nothing safe
    can be sent yet, and what happened on the way."""

    command: dict[str, float] | None
    events: list[SafetyEvent]


class SafetyMonitor:
    def __init__(self, envelope: Envelope, source_timeout_s: float, rules: list[Rule] | None = None,
                 stale_joint_states_s: float = 0.1) -> None:
        self.envelope = envelope
        self.source_timeout_s = source_timeout_s
        self.rules = default_rules() if rules is None else rules
        self.watchdog = SourceWatchdog(source_timeout_s)
        self.joint_states = SourceWatchdog(stale_joint_states_s)  # armed by the first `observe`
        self.counts: Counter[str] = Counter()  # events by kind, for diagnostics
        self.state = WAITING
        self.sent = 0  # commands published
        self.held = 0  # of which holds
        self.rejected = 0  # proposed commands not passed on (held instead, or nothing to send)
        self._last_sent: dict[str, float] | None = None
        self._last_sent_s: float | None = None
        self._hold_pose: dict[str, float] | None = None  # latched while holding

    @classmethod
    def from_spec(cls, spec: Embodiment, rules: list[Rule] | None = None) -> SafetyMonitor:
        """The monitor of an embodiment: its envelope, `safety.source_timeout_s` and `stale_joint_states_s`."""
        return cls(Envelope.from_spec(spec), spec.safety.source_timeout_s, rules, spec.safety.stale_joint_states_s)

    def observe(self, now_s: float) -> None:
        """A joint state arrived now. Once fed, joint-state silence past the stale limit holds the robot."""
        self.joint_states.feed(now_s)

    @property
    def holding(self) -> bool:
        return self._hold_pose is not None

    def step(self, command: Mapping[str, float], measured: Mapping[str, float], now_s: float) -> Verdict:
        """Make a proposed command (any subset of joints, by name) safe to send."""
        events = [SafetyEvent(UNKNOWN_JOINT, name, f"{name}: not a joint of the envelope (dropped)")
                  for name in command if name not in self.envelope.joints]
        if self._stale(now_s):
            self.rejected += 1
            return self._hold_last([*events, self._stale_event(now_s)], now_s)
        reference = self._reference(measured)
        if reference is None:
            self.rejected += 1
            return self._report(None, [*events, self._no_measurement(measured)])
        proposal = {name: float(command.get(name, reference[name])) for name in self.envelope.joint_names}
        ctx = self._context(reference, measured, now_s)
        for rule in self.rules:
            violations = rule.detector.inspect(proposal, ctx)
            if not violations:
                continue
            events += [SafetyEvent.of(v, rule.strategy.name) for v in violations]
            proposal = rule.strategy.apply(proposal, violations, ctx)
            if rule.strategy.terminal:
                self.rejected += 1
                return self._report(self._send(proposal, now_s, holding=f"holding ({violations[0].kind})"), events)
        self.watchdog.feed(now_s)
        return self._report(self._send(proposal, now_s, holding=None), events)

    def reject(self, reason: str, measured: Mapping[str, float], now_s: float) -> Verdict:
        """A command that cannot even be read (e.g. names and positions of different lengths): hold."""
        self.rejected += 1
        return self._hold([SafetyEvent(MALFORMED, None, f"command rejected: {reason} (held)")], measured, now_s,
                          f"holding ({MALFORMED})")

    def tick(self, measured: Mapping[str, float], now_s: float) -> Verdict | None:
        """Call at the control rate: a hold while joint states are stale or the source is silent, else None."""
        if self._stale(now_s):
            events = [] if self.state == HOLD_STALE else [self._stale_event(now_s)]
            return self._hold_last(events, now_s)
        if not self.watchdog.silent(now_s) or self._reference(measured) is None:
            return None
        since = "no command yet" if self.watchdog.last_s is None else \
            f"no command for {now_s - self.watchdog.last_s:.3f} s"
        events = [] if self.holding else [SafetyEvent(SOURCE_SILENT, None, f"{since} (held)")]
        return self._hold(events, measured, now_s, f"holding ({SOURCE_SILENT})")

    def summary(self) -> dict[str, str | int]:
        """Counters and state for diagnostics."""
        clamps = sum(n for kind, n in self.counts.items() if kind in CLAMP_KINDS)
        return {"state": self.state, "sent": self.sent, "holds_sent": self.held, "rejected": self.rejected,
                "clamps": clamps, **{f"events.{kind}": n for kind, n in sorted(self.counts.items())}}

    def _hold(self, events: list[SafetyEvent], measured: Mapping[str, float], now_s: float, state: str) -> Verdict:
        reference = self._reference(measured)
        if reference is None:
            return self._report(None, events)
        ctx = self._context(reference, measured, now_s)
        return self._report(self._send(dict(ctx.hold_pose), now_s, holding=state), events)

    def _stale(self, now_s: float) -> bool:
        return self.joint_states.last_s is not None and self.joint_states.silent(now_s)

    def _stale_event(self, now_s: float) -> SafetyEvent:
        last = self.joint_states.last_s
        age = 0.0 if last is None else now_s - last
        return SafetyEvent(STALE_JOINT_STATES, None, f"no joint states for {age:.3f} s (held at the last target; "
                                                     "commands pass again when joint states return)")

    def _hold_last(self, events: list[SafetyEvent], now_s: float) -> Verdict:
        # The measured pose is old: hold what the robot was last told (the latched hold, else the last target).
        pose = self._hold_pose or self._last_sent
        if pose is None:
            return self._report(None, events)
        return self._report(self._send(dict(pose), now_s, holding=HOLD_STALE), events)

    def _reference(self, measured: Mapping[str, float]) -> dict[str, float] | None:
        """The last sent target, else the measured pose clipped into the envelope; None if unknown."""
        if self._last_sent is not None:
            return self._last_sent
        usable = _finite(measured)
        if any(name not in usable for name in self.envelope.joint_names):
            return None
        return self.envelope.clip({name: usable[name] for name in self.envelope.joint_names})

    def _context(self, reference: dict[str, float], measured: Mapping[str, float], now_s: float) -> Context:
        if self._last_sent_s is None:
            step_s = self.envelope.control_period_s
        else:
            step_s = min(max(now_s - self._last_sent_s, 0.0), self.source_timeout_s)
        usable = _finite(measured)
        hold_pose = self._hold_pose or self.envelope.clip(
            {name: usable.get(name, reference[name]) for name in self.envelope.joint_names})
        return Context(self.envelope, now_s, measured, reference, step_s, hold_pose)

    def _send(self, command: dict[str, float], now_s: float, holding: str | None) -> dict[str, float]:
        self._hold_pose = dict(command) if holding else None
        self.state = holding or PASSING
        self._last_sent, self._last_sent_s = dict(command), now_s
        self.sent += 1
        self.held += holding is not None
        return command

    def _no_measurement(self, measured: Mapping[str, float]) -> SafetyEvent:
        usable = _finite(measured)
        missing = [name for name in self.envelope.joint_names if name not in usable]
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return SafetyEvent(NO_MEASUREMENT, None, f"command dropped: no measured position yet for {shown}")

    def _report(self, command: dict[str, float] | None, events: Sequence[SafetyEvent]) -> Verdict:
        self.counts.update(event.kind for event in events)
        return Verdict(command, list(events))


def _finite(measured: Mapping[str, float]) -> dict[str, float]:
    # A NaN from a faulty encoder must never become a target, not even a hold.
    return {name: value for name, value in measured.items() if math.isfinite(value)}
