"""The ROS-free safety core: each detector and strategy alone, then the composed monitor."""

from __future__ import annotations

import math

import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.safety import (
    Clamp,
    Context,
    Envelope,
    Hold,
    JointBounds,
    NonFiniteDetector,
    PositionLimitDetector,
    Rule,
    SafetyMonitor,
    SourceWatchdog,
    VelocityLimitDetector,
    Violation,
)

NAN, INF = float("nan"), float("inf")
# Two joints with round numbers: at the 0.05 s control period `a` may move 0.1, `b` 0.05 per step.
ENVELOPE = Envelope({"a": JointBounds(-1.0, 1.0, 2.0), "b": JointBounds(0.0, 2.0, 1.0)}, ("a", "b"), 0.05)
MEASURED = {"a": 0.5, "b": 1.0}


def context(reference: dict[str, float] = MEASURED, step_s: float = 0.05) -> Context:
    return Context(ENVELOPE, 0.0, MEASURED, reference, step_s, dict(MEASURED))


# --- envelope ---------------------------------------------------------------------------------

def test_envelope_from_gr1_applies_margins_and_velocity_scale() -> None:
    spec = load_embodiment("gr1")
    envelope = Envelope.from_spec(spec)
    assert envelope.joint_names == spec.joint_names
    elbow = envelope.joints["left_elbow_pitch_joint"]
    assert (elbow.lower, elbow.upper) == pytest.approx((-2.27 + 0.05, 2.27 - 0.05))
    assert elbow.max_velocity == pytest.approx(5.24 * spec.safety.velocity_scale)
    assert envelope.control_period_s == pytest.approx(1 / spec.rates.control_hz)


# --- detectors --------------------------------------------------------------------------------

@pytest.mark.parametrize("command, expected", [
    ({"a": 0.0, "b": 1.0}, []),
    ({"a": NAN, "b": 1.0}, [("a", NAN)]),
    ({"a": INF, "b": -INF}, [("a", INF), ("b", -INF)]),
])
def test_non_finite_detector(command: dict[str, float], expected: list) -> None:
    found = NonFiniteDetector().inspect(command, context())
    assert [v.joint for v in found] == [j for j, _ in expected]
    assert all(v.kind == "non_finite" and not math.isfinite(v.value) for v in found)


@pytest.mark.parametrize("command, expected", [
    ({"a": 0.3, "b": 1.5}, []),
    ({"a": 1.0, "b": 0.0}, []),  # on the bound is inside
    ({"a": 1.7, "b": 1.0}, [("a", 1.0)]),
    ({"a": -3.0, "b": 2.5}, [("a", -1.0), ("b", 2.0)]),
])
def test_position_limit_detector(command: dict[str, float], expected: list) -> None:
    found = PositionLimitDetector().inspect(command, context())
    assert [(v.joint, v.bound) for v in found] == expected
    assert all(v.kind == "position_limit" for v in found)


@pytest.mark.parametrize("command, step_s, expected", [
    ({"a": 0.6, "b": 1.05}, 0.05, []),  # exactly the reach of one step
    ({"a": 0.9, "b": 1.0}, 0.05, [("a", pytest.approx(0.6))]),
    ({"a": 0.0, "b": 0.5}, 0.05, [("a", pytest.approx(0.4)), ("b", pytest.approx(0.95))]),
    ({"a": 0.9, "b": 1.0}, 0.2, []),  # a longer step may travel farther
    ({"a": 0.51, "b": 1.0}, 0.0, [("a", pytest.approx(0.5))]),
])
def test_velocity_limit_detector(command: dict[str, float], step_s: float, expected: list) -> None:
    found = VelocityLimitDetector().inspect(command, context(step_s=step_s))
    assert [(v.joint, v.bound) for v in found] == expected


def test_watchdog_is_silent_until_fed_and_after_the_timeout() -> None:
    dog = SourceWatchdog(0.25)
    assert dog.silent(0.0)
    dog.feed(1.0)
    assert not dog.silent(1.2)
    assert dog.silent(1.25)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        SourceWatchdog(0.0)


# --- strategies -------------------------------------------------------------------------------

def test_clamp_replaces_only_flagged_joints() -> None:
    violations = [Violation("position_limit", "a", 1.7, 1.0)]
    assert Clamp().apply({"a": 1.7, "b": 1.2}, violations, context()) == {"a": 1.0, "b": 1.2}
    assert not Clamp.terminal


def test_hold_returns_the_hold_pose_and_ends_the_pipeline() -> None:
    assert Hold().apply({"a": NAN, "b": 1.2}, [Violation("non_finite", "a", NAN)], context()) == MEASURED
    assert Hold.terminal


# --- the composed monitor ---------------------------------------------------------------------

def primed(now_s: float = 0.0, command: dict[str, float] = MEASURED) -> SafetyMonitor:
    """A monitor that has already sent `command` at `now_s` (the reference for the next step)."""
    monitor = SafetyMonitor(ENVELOPE, source_timeout_s=0.25)
    monitor.step(command, MEASURED, now_s)
    return monitor


@pytest.mark.parametrize("case, command, expected, kinds", [
    ("within limits: unchanged", {"a": 0.55, "b": 1.02}, {"a": 0.55, "b": 1.02}, []),
    ("too fast: delta-limited", {"a": 0.9, "b": 0.5}, {"a": 0.6, "b": 0.95}, ["velocity_limit"] * 2),
    ("NaN: hold at measured", {"a": NAN, "b": 1.02}, MEASURED, ["non_finite"]),
    ("Inf: hold at measured", {"a": 0.55, "b": INF}, MEASURED, ["non_finite"]),
    ("unknown names: dropped", {"a": 0.55, "zz": 3.0}, {"a": 0.55, "b": 1.0}, ["unknown_joint"]),
    ("missing names: previous target", {"b": 1.03}, {"a": 0.5, "b": 1.03}, []),
])
def test_monitor_cases(case: str, command: dict, expected: dict, kinds: list[str]) -> None:
    monitor = primed()
    safe, events = monitor.step(command, MEASURED, 0.05)
    assert safe == pytest.approx(expected), case
    assert [e.kind for e in events] == kinds, case
    assert list(safe) == ["a", "b"]  # every joint, in envelope order


def test_beyond_limits_is_clamped_to_limit_minus_margin_on_gr1() -> None:
    spec = load_embodiment("gr1")
    monitor = SafetyMonitor.from_spec(spec)
    # At the elbow's upper limit already, so only the position clamp acts.
    measured = {name: 0.0 for name in spec.joint_names} | {"left_elbow_pitch_joint": 2.27}
    safe, events = monitor.step({"left_elbow_pitch_joint": 3.5, "right_elbow_pitch_joint": -9.0}, measured, 0.0)
    assert safe["left_elbow_pitch_joint"] == pytest.approx(2.27 - spec.margin("left_elbow_pitch_joint"))
    reach = 5.24 * spec.safety.velocity_scale / spec.rates.control_hz
    assert safe["right_elbow_pitch_joint"] == pytest.approx(-reach)  # clamped, then delta-limited from 0
    assert [(e.kind, e.joint) for e in events] == [("position_limit", "left_elbow_pitch_joint"),
                                                   ("position_limit", "right_elbow_pitch_joint"),
                                                   ("velocity_limit", "right_elbow_pitch_joint")]
    assert set(safe) == set(spec.joint_names)


def test_monitor_from_spec_holds_after_the_spec_source_timeout() -> None:
    spec = load_embodiment("gr1")
    timeout_s = spec.safety.source_timeout_s
    monitor = SafetyMonitor.from_spec(spec)
    measured = {name: 0.0 for name in spec.joint_names}
    monitor.step({}, measured, 0.0)
    assert monitor.tick(measured, timeout_s - 1e-3) is None
    assert monitor.tick(measured, timeout_s) is not None and monitor.state == "holding (source_silent)"


def test_first_command_is_delta_limited_from_the_measured_pose() -> None:
    monitor = SafetyMonitor(ENVELOPE, 0.25)
    safe, _ = monitor.step({"a": -1.0}, MEASURED, 10.0)
    assert safe == pytest.approx({"a": 0.4, "b": 1.0})


def test_delta_accumulates_over_steps_toward_a_far_target() -> None:
    monitor = primed()
    targets = [monitor.step({"a": 1.0}, MEASURED, 0.05 * k).command["a"] for k in range(1, 8)]
    assert targets == pytest.approx([0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0])


def test_silence_holds_at_the_measured_pose_latched_until_commands_resume() -> None:
    monitor = primed(command={"a": 0.7, "b": 1.0})
    assert monitor.tick(MEASURED, 0.2) is None  # within the timeout
    hold, events = monitor.tick(MEASURED, 0.25)
    assert hold == MEASURED and [e.kind for e in events] == ["source_silent"]
    assert monitor.state == "holding (source_silent)"
    # The robot sags while held; the hold stays where it began instead of following it down.
    sagged = {"a": 0.45, "b": 0.95}
    again, events = monitor.tick(sagged, 0.30)
    assert again == MEASURED and events == []
    resumed, _ = monitor.step({"a": 0.9}, sagged, 0.35)
    assert resumed == pytest.approx({"a": 0.6, "b": 1.0})  # delta-limited from the hold pose
    assert monitor.state == "passing" and monitor.tick(sagged, 0.40) is None
    assert monitor.summary()["holds_sent"] == 2


def test_stale_joint_states_hold_the_last_target_until_they_return() -> None:
    monitor = SafetyMonitor(ENVELOPE, 0.25, stale_joint_states_s=0.1)
    monitor.observe(0.0)
    sent, _ = monitor.step({"a": 0.6}, MEASURED, 0.05)
    assert sent == pytest.approx({"a": 0.6, "b": 1.0})
    # No joint state since t=0: the old measured pose is not trusted, a new target is not passed.
    held, events = monitor.step({"a": 0.9}, MEASURED, 0.15)
    assert held == sent and [e.kind for e in events] == ["stale_joint_states"]
    assert "no joint states for 0.150 s" in events[0].message
    again, events = monitor.tick({"a": 0.2, "b": 1.0}, 0.20)
    assert again == sent and events == [] and monitor.state == "holding (stale_joint_states)"
    monitor.observe(0.21)  # the link is back: commands pass again, delta-limited from the hold
    resumed, events = monitor.step({"a": 0.9}, MEASURED, 0.25)
    assert resumed == pytest.approx({"a": 0.7, "b": 1.0}) and monitor.state == "passing"
    assert [e.kind for e in events] == ["velocity_limit"]


def test_before_the_first_joint_state_staleness_does_not_apply() -> None:
    monitor = SafetyMonitor(ENVELOPE, 0.25, stale_joint_states_s=0.1)
    safe, _ = monitor.step({"a": 0.6}, MEASURED, 5.0)  # never observed: the measured mapping decides
    assert safe == pytest.approx({"a": 0.6, "b": 1.0})
    assert SafetyMonitor.from_spec(load_embodiment("gr1")).joint_states.timeout_s == 0.2


def test_without_a_measured_pose_nothing_is_sent() -> None:
    monitor = SafetyMonitor(ENVELOPE, 0.25)
    assert monitor.tick({}, 0.0) is None
    safe, events = monitor.step({"a": 0.1}, {"a": 0.0, "b": NAN}, 0.0)
    assert safe is None
    assert [e.kind for e in events] == ["no_measurement"] and "b" in events[0].message
    assert monitor.state == "waiting for joint states"


def test_hold_pose_is_clipped_into_the_envelope() -> None:
    monitor = SafetyMonitor(ENVELOPE, 0.25)
    hold, _ = monitor.tick({"a": 1.02, "b": -0.01}, 0.0)
    assert hold == {"a": 1.0, "b": 0.0}


def test_malformed_command_is_rejected_with_a_hold() -> None:
    monitor = primed(command={"a": 0.7, "b": 1.0})
    hold, events = monitor.reject("2 names but 1 positions", MEASURED, 0.05)
    assert hold == MEASURED and events[0].kind == "malformed" and "2 names" in events[0].message
    assert monitor.summary()["rejected"] == 1


def test_summary_counts_clamps_and_rejections() -> None:
    monitor = primed()
    monitor.step({"a": 5.0}, MEASURED, 0.05)
    monitor.step({"a": NAN}, MEASURED, 0.10)
    summary = monitor.summary()
    assert summary["clamps"] == 2 and summary["rejected"] == 1
    assert summary["events.position_limit"] == 1 and summary["events.non_finite"] == 1


def test_rules_compose_a_custom_pipeline() -> None:
    # A deployment that holds on any out-of-limit target instead of clamping it.
    monitor = SafetyMonitor(ENVELOPE, 0.25, rules=[Rule(PositionLimitDetector(), Hold())])
    monitor.step(MEASURED, MEASURED, 0.0)
    safe, events = monitor.step({"a": 1.5}, MEASURED, 0.05)
    assert safe == MEASURED and events[0].message.endswith("(held)")
