"""The safety monitor core: every command to the robot passes through `SafetyMonitor`.

It composes `Rule`s (a detector paired with a strategy) over a full, by-name command and keeps
the little state safety needs: the last sent target and velocity (the reference for per-step
motion), watchdogs on the command source, joint states and camera, the latched hold pose, and the
gates in front of the rules: the e-stop latch, source arbitration (teleop or policy, one at a
time), operator enable with ramp-in for the policy, and the freshness of a policy command's
observation. No ROS here; the `safety_monitor` node feeds it messages and publishes what it returns.

Before the rules, in order: stale joint states hold the last target; a latched e-stop, a
non-selected source or a policy not enabled pass nothing (ticks hold); a stale camera or chunk
holds. Holds stop the motion at once: they are exempt from the acceleration bound, nothing else.

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
    AccelerationLimitDetector,
    Detector,
    NonFiniteDetector,
    OutOfDistributionDetector,
    PositionLimitDetector,
    SourceWatchdog,
    StepDeltaDetector,
    VelocityLimitDetector,
)
from dreamgen_core.safety.enable import OperatorEnable
from dreamgen_core.safety.envelope import Envelope
from dreamgen_core.safety.estop import EstopLatch
from dreamgen_core.safety.events import (
    ACCELERATION_LIMIT,
    ENABLED,
    ESTOP,
    ESTOP_RESET,
    FOREIGN_PUBLISHER,
    MALFORMED,
    NO_MEASUREMENT,
    NOT_ENABLED,
    NOT_SELECTED,
    POSITION_LIMIT,
    SOURCE_SILENT,
    SOURCE_SWITCHED,
    STALE_CAMERA,
    STALE_CHUNK,
    STALE_JOINT_STATES,
    STEP_DELTA,
    UNKNOWN_JOINT,
    VELOCITY_LIMIT,
    SafetyEvent,
)
from dreamgen_core.safety.publishers import PublisherGuard
from dreamgen_core.safety.sources import POLICY, TELEOP, SourceArbiter
from dreamgen_core.safety.strategies import Clamp, Hold, Strategy, Warn

CLAMP_KINDS = (POSITION_LIMIT, VELOCITY_LIMIT, STEP_DELTA, ACCELERATION_LIMIT)
WAITING = "waiting for joint states"
PASSING = "passing"
HOLD_STALE = f"holding ({STALE_JOINT_STATES})"
HOLD_ESTOP = f"holding ({ESTOP})"


@dataclass(frozen=True)
class Rule:
    detector: Detector
    strategy: Strategy


def default_rules() -> list[Rule]:
    """The envelope: reject NaN/Inf, then clamp position, then bound the per-step motion.

    Position before velocity: the velocity clamp moves from an in-envelope reference toward an
    in-envelope target, so its result stays inside the envelope. Acceleration after velocity and
    step delta keeps both (detectors.py); the last position clamp catches an acceleration-bound
    overshoot at a limit (position wins over acceleration there).
    """
    return [Rule(NonFiniteDetector(), Hold()), Rule(PositionLimitDetector(), Clamp()),
            Rule(VelocityLimitDetector(), Clamp()), Rule(StepDeltaDetector(), Clamp()),
            Rule(AccelerationLimitDetector(), Clamp()), Rule(PositionLimitDetector(), Clamp())]


def ood_rule(low: Mapping[str, float], high: Mapping[str, float]) -> Rule:
    """Warn when a target leaves the training data's [q01, q99] (insert after the NaN rule)."""
    return Rule(OutOfDistributionDetector(low, high), Warn())


class Verdict(NamedTuple):
    """The command to publish (every envelope joint, in layout order) or None when nothing safe
    can be sent yet, and what happened on the way."""

    command: dict[str, float] | None
    events: list[SafetyEvent]


class Outcome(NamedTuple):
    """The answer to an operator request (a service call): done or not, why, and what was logged."""

    ok: bool
    message: str
    events: list[SafetyEvent]


class SafetyMonitor:
    def __init__(self, envelope: Envelope, source_timeout_s: float, rules: list[Rule] | None = None,
                 stale_joint_states_s: float = 0.1, *, stale_camera_s: float = math.inf, ramp_in_s: float = 0.0,
                 chunk_max_age_s: float = math.inf, source: str = TELEOP,
                 gated: tuple[str, ...] = (POLICY,)) -> None:
        self.envelope = envelope
        self.source_timeout_s = source_timeout_s
        self.rules = default_rules() if rules is None else rules
        self.watchdog = SourceWatchdog(source_timeout_s)
        self.joint_states = SourceWatchdog(stale_joint_states_s)  # armed by the first `observe`
        # Armed by the first camera frame: a robot without a camera never holds for it.
        self.camera = SourceWatchdog(stale_camera_s) if math.isfinite(stale_camera_s) else None
        self.chunk_max_age_s = chunk_max_age_s
        self.estop_latch = EstopLatch()
        self.sources = SourceArbiter(source)
        self.operator = OperatorEnable(ramp_in_s, gated)
        self.publishers = PublisherGuard()
        self._velocity: dict[str, float] = {}
        self._refusal: str | None = None  # the last dropped command's reason, reported once
        self.counts: Counter[str] = Counter()  # events by kind, for diagnostics
        self.state = WAITING
        self.sent = 0  # commands published
        self.held = 0  # of which holds
        self.rejected = 0  # proposed commands not passed on (held instead, or nothing to send)
        self._last_sent: dict[str, float] | None = None
        self._last_sent_s: float | None = None
        self._hold_pose: dict[str, float] | None = None  # latched while holding

    @classmethod
    def from_spec(cls, spec: Embodiment, rules: list[Rule] | None = None, source: str = TELEOP) -> SafetyMonitor:
        """The monitor of an embodiment: its envelope and every timing of its `safety` section."""
        s = spec.safety
        return cls(Envelope.from_spec(spec), s.source_timeout_s, rules, s.stale_joint_states_s,
                   stale_camera_s=s.stale_camera_s, ramp_in_s=s.ramp_in_s, chunk_max_age_s=s.chunk_max_age_s,
                   source=source)

    def observe(self, now_s: float) -> None:
        """A joint state arrived now. Once fed, joint-state silence past the stale limit holds the robot."""
        self.joint_states.feed(now_s)

    def observe_camera(self, now_s: float) -> None:
        """A camera frame arrived now. Once fed, camera silence holds the gated sources (the policy)."""
        if self.camera is not None:
            self.camera.feed(now_s)

    def reset(self) -> None:
        """Every rule's and gate's memory back to the start (tests, a new session); counters stay."""
        for rule in self.rules:
            rule.detector.reset()
            rule.strategy.reset()
        for part in (self.estop_latch, self.sources, self.operator, self.publishers):
            part.reset()
        self.watchdog.last_s = None
        self._last_sent = self._last_sent_s = self._hold_pose = None
        self._velocity = {}
        self._refusal = None
        self.state = WAITING

    # --- operator requests ------------------------------------------------------------------------
    def estop(self, pressed: bool, measured: Mapping[str, float], now_s: float) -> Verdict | None:
        """The e-stop input. Pressed: latch and hold at once (the caller publishes the verdict)."""
        if not pressed:
            self.estop_latch.release_input()
            return None
        if not self.estop_latch.press("e-stop pressed"):
            return None
        return self._estop_hold("e-stop pressed", measured, now_s)

    def reset_estop(self, now_s: float) -> Outcome:
        """The explicit reset. The policy must be enabled again afterwards (and ramps in again)."""
        why = self.estop_latch.clear()
        if why is not None:
            return self._outcome(False, f"e-stop not reset: {why}", ESTOP_RESET)
        self.operator.reset()
        return self._outcome(True, "e-stop reset; the policy needs an operator enable again", ESTOP_RESET)

    def select(self, source: str, now_s: float) -> Outcome:
        """Switch the command source. The new one must speak before anything passes (holds meanwhile)."""
        why = self.sources.select(source)
        if why is not None:
            return self._outcome(False, why, SOURCE_SWITCHED)
        self.operator.reset()
        self.watchdog.last_s = None
        return self._outcome(True, f"command source: {source} (the policy needs an operator enable)",
                             SOURCE_SWITCHED)

    def enable(self, on: bool, measured: Mapping[str, float], now_s: float) -> Outcome:
        """Operator enable of the gated sources; on: ramp in from the measured pose."""
        if not on:
            self.operator.reset()
            return self._outcome(True, "disabled: policy commands are dropped", ENABLED)
        if self.estop_latch.engaged:
            return self._outcome(False, f"not enabled: the e-stop is latched ({self.estop_latch.reason})", ENABLED)
        usable = _finite(measured)
        if any(name not in usable for name in self.envelope.joint_names):
            return self._outcome(False, "not enabled: no measured pose yet", ENABLED)
        self.operator.enable(self.envelope.clip({n: usable[n] for n in self.envelope.joint_names}), now_s)
        return self._outcome(True, f"enabled: ramping in over {self.operator.ramp_in_s:g} s", ENABLED)

    def publishers_seen(self, count: int, measured: Mapping[str, float], now_s: float) -> Verdict | None:
        """How many publishers the robot command topic has (the monitor's own included). Another one
        latches the e-stop: the robot holds and an operator must find it and reset."""
        foreign = self.publishers.check(count)
        if foreign is None:
            return None
        reason = f"{foreign} other publisher(s) on the robot command topic"
        self.estop_latch.trip(reason)
        return self._estop_hold(reason, measured, now_s, kind=FOREIGN_PUBLISHER)

    @property
    def holding(self) -> bool:
        return self._hold_pose is not None

    def step(self, command: Mapping[str, float], measured: Mapping[str, float], now_s: float,
             source: str = TELEOP, stamp_s: float | None = None) -> Verdict:
        """Make a proposed command (any subset of joints, by name) from `source` safe to send.
        `stamp_s`: capture time of the observation a policy command was computed from."""
        events = [SafetyEvent(UNKNOWN_JOINT, name, f"{name}: not a joint of the envelope (dropped)")
                  for name in command if name not in self.envelope.joints]
        if self._stale(now_s):
            self.rejected += 1
            return self._hold_last([*events, self._stale_event(now_s)], now_s)
        refused = self._gate(source, now_s)
        if refused is not None:
            self.rejected += 1
            # Reported when the reason changes, not for every dropped command (20 a second).
            repeated, self._refusal = refused.message == self._refusal, refused.message
            return self._report(None, [*events, *([] if repeated else [refused])])
        self._refusal = None
        reference = self._reference(measured)
        if reference is None:
            self.rejected += 1
            return self._report(None, [*events, self._no_measurement(measured)])
        stale = self._stale_inputs(source, now_s, stamp_s)
        if stale is not None:
            kind, message = stale
            self.rejected += 1
            state = f"holding ({kind})"
            return self._hold([*events, *([] if self.state == state else [SafetyEvent(kind, None, message)])],
                              measured, now_s, state)
        proposal = {name: float(command.get(name, reference[name])) for name in self.envelope.joint_names}
        proposal = self.operator.ramp(proposal, source, now_s)
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
        """Call at the control rate: a hold while joint states are stale, the e-stop is latched or the
        source is silent, else None."""
        if self._stale(now_s):
            events = [] if self.state == HOLD_STALE else [self._stale_event(now_s)]
            return self._hold_last(events, now_s)
        if self.estop_latch.engaged:
            return self._hold([], measured, now_s, HOLD_ESTOP)
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
                "clamps": clamps, "source": self.sources.selected, "enabled": str(self.operator.enabled),
                "estop": self.estop_latch.reason or "released",
                **{f"events.{kind}": n for kind, n in sorted(self.counts.items())}}

    def _gate(self, source: str, now_s: float) -> SafetyEvent | None:
        """Why a command from `source` may not move the robot at all now (the tick holds), or None."""
        if self.estop_latch.engaged:
            return SafetyEvent(ESTOP, None, f"{source} command dropped: e-stop latched ({self.estop_latch.reason})")
        if not self.sources.admits(source):
            return SafetyEvent(NOT_SELECTED, None,
                               f"{source} command dropped: the selected source is {self.sources.selected}")
        if not self.operator.admits(source):
            return SafetyEvent(NOT_ENABLED, None, f"{source} command dropped: not enabled by the operator")
        return None

    def _stale_inputs(self, source: str, now_s: float, stamp_s: float | None) -> tuple[str, str] | None:
        """A gated source's command computed from a stale world: its camera or its observation."""
        if source not in self.operator.gated:
            return None
        if self.camera is not None and self.camera.last_s is not None and self.camera.silent(now_s):
            return STALE_CAMERA, f"no camera frame for {now_s - self.camera.last_s:.3f} s (held)"
        if stamp_s is not None and now_s - stamp_s > self.chunk_max_age_s:
            return STALE_CHUNK, (f"command from an observation {now_s - stamp_s:.3f} s old "
                                 f"> {self.chunk_max_age_s:g} s (held)")
        return None

    def _estop_hold(self, reason: str, measured: Mapping[str, float], now_s: float, kind: str = ESTOP) -> Verdict:
        self.operator.reset()
        return self._hold([SafetyEvent(kind, None, f"{reason}: holding until the e-stop is reset")],
                          measured, now_s, HOLD_ESTOP)

    def _outcome(self, ok: bool, message: str, kind: str) -> Outcome:
        event = SafetyEvent(kind, None, message)
        self.counts[kind] += 1
        return Outcome(ok, message, [event])

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
        return Context(self.envelope, now_s, measured, reference, step_s, hold_pose, self._velocity)

    def _send(self, command: dict[str, float], now_s: float, holding: str | None) -> dict[str, float]:
        # The velocity the acceleration bound continues from: zero after a hold (the robot stops).
        step_s = 0.0 if self._last_sent_s is None else now_s - self._last_sent_s
        if holding or self._last_sent is None or step_s <= 0:
            self._velocity = {}
        else:
            self._velocity = {n: (command[n] - self._last_sent[n]) / min(step_s, self.source_timeout_s)
                              for n in command}
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
