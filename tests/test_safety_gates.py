"""The deploy parts of the safety core, each alone and in the monitor: step delta, acceleration,
out-of-distribution warnings, e-stop latch, source arbitration, operator enable with ramp-in,
stale camera and chunk, foreign publishers."""

from __future__ import annotations

import itertools
import math

import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.safety import (
    POLICY,
    TELEOP,
    AccelerationLimitDetector,
    Context,
    Envelope,
    EstopLatch,
    JointBounds,
    OutOfDistributionDetector,
    PublisherGuard,
    SafetyMonitor,
    SourceArbiter,
    StepDeltaDetector,
    ood_rule,
)
from dreamgen_core.safety.monitor import default_rules

# a: 2 rad/s, 40 rad/s^2 (0.1 rad/step from rest at 0.05 s), at most 0.08 rad a command.
ENVELOPE = Envelope({"a": JointBounds(-1.0, 1.0, 2.0, 40.0, 0.08), "b": JointBounds(0.0, 2.0, 1.0)}, ("a", "b"), 0.05)
MEASURED = {"a": 0.0, "b": 1.0}


def ctx(velocity: dict[str, float] | None = None, step_s: float = 0.05) -> Context:
    return Context(ENVELOPE, 0.0, MEASURED, MEASURED, step_s, dict(MEASURED), velocity or {})


def monitor(**kw: object) -> SafetyMonitor:
    args: dict = {"stale_camera_s": 0.3, "ramp_in_s": 0.2, "chunk_max_age_s": 0.5, **kw}
    return SafetyMonitor(ENVELOPE, 0.25, None, 0.2, **args)


def test_gr1_envelope_carries_the_spec_acceleration_and_step_delta() -> None:
    spec = load_embodiment("gr1")
    elbow = Envelope.from_spec(spec).joints["left_elbow_pitch_joint"]
    assert (elbow.max_acceleration, elbow.max_step_delta) == (spec.safety.max_acceleration, spec.safety.max_step_delta)
    assert elbow.reach(10.0) == spec.safety.max_step_delta  # a late command is still one bounded step


def test_step_delta_bounds_a_late_command() -> None:
    found = StepDeltaDetector().inspect({"a": 0.3, "b": 1.0}, ctx(step_s=0.25))  # velocity would allow 0.5
    assert [(v.kind, v.joint, v.bound) for v in found] == [("step_delta", "a", pytest.approx(0.08))]


@pytest.mark.parametrize("velocity, target, bound", [
    ({}, 0.2, 0.1),  # from rest: 40 * 0.05^2 = 0.1 rad
    ({"a": 1.6}, -0.08, 0.08 - 0.1),  # moving +0.08/step: a reversal is cut to -0.02
    ({"a": 1.6}, 0.1, None),  # continuing is fine
])
def test_acceleration_bounds_the_change_of_velocity(velocity: dict, target: float, bound: float | None) -> None:
    found = AccelerationLimitDetector().inspect({"a": target, "b": 1.0}, ctx(velocity))
    assert [v.bound for v in found] == ([] if bound is None else [pytest.approx(bound)])


def test_ood_warns_once_when_a_joint_leaves_the_range_and_again_after_it_returned() -> None:
    det = OutOfDistributionDetector({"a": -0.5}, {"a": 0.5})
    seen = [len(det.inspect({"a": x, "b": 1.0}, ctx())) for x in (0.0, 0.7, 0.8, 0.2, 0.9)]
    assert seen == [0, 1, 0, 0, 1]
    det.reset()
    assert len(det.inspect({"a": 0.9, "b": 1.0}, ctx())) == 1


def test_ood_rule_warns_without_changing_the_command() -> None:
    m = SafetyMonitor(ENVELOPE, 0.25, [default_rules()[0], ood_rule({"a": -0.01}, {"a": 0.01}), *default_rules()[1:]])
    safe, events = m.step({"a": 0.05}, MEASURED, 0.0)
    assert safe == {"a": 0.05, "b": 1.0} and [e.kind for e in events] == ["out_of_distribution"]
    assert events[0].message.endswith("(warned)")


def test_estop_latch_needs_release_then_reset() -> None:
    latch = EstopLatch()
    assert latch.press("button") and not latch.press("button")
    assert "still pressed" in (latch.clear() or "")
    latch.release_input()
    assert latch.engaged and latch.clear() is None and not latch.engaged
    assert latch.trip("fault") and latch.clear() is None  # a fault trip has no button to release


def test_source_arbiter_and_publisher_guard() -> None:
    arbiter = SourceArbiter()
    assert arbiter.admits(TELEOP) and not arbiter.admits(POLICY)
    assert "known: teleop, policy" in (arbiter.select("replay") or "")
    guard = PublisherGuard()
    assert [guard.check(n) for n in (1, 2, 2, 1, 3)] == [None, 1, None, None, 2]


def test_estop_mid_motion_holds_at_once_and_until_reset() -> None:
    m = monitor()
    m.step({"a": 0.05}, MEASURED, 0.0)
    hold = m.estop(True, {"a": 0.04, "b": 1.0}, 0.01)
    assert hold is not None and hold.command == {"a": 0.04, "b": 1.0} and hold.events[0].kind == "estop"
    assert m.step({"a": 0.1}, MEASURED, 0.05).command is None  # the command is dropped
    assert m.tick({"a": 0.0, "b": 1.0}, 0.06).command == {"a": 0.04, "b": 1.0}  # the latched pose, every tick
    assert not m.reset_estop(0.07).ok
    m.estop(False, MEASURED, 0.08)
    assert m.reset_estop(0.09).ok and m.summary()["estop"] == "released"
    safe, _ = m.step({"a": 0.08}, MEASURED, 0.10)
    assert safe == pytest.approx({"a": 0.08, "b": 1.0})


def test_only_the_selected_source_passes_and_the_policy_needs_enable_and_ramps_in() -> None:
    m = monitor()
    assert m.step({"a": 0.05}, MEASURED, 0.0, POLICY).command is None  # teleop selected
    assert m.select(POLICY, 0.0).ok
    dropped = m.step({"a": 0.05}, MEASURED, 0.01, TELEOP)
    assert dropped.command is None and dropped.events[0].kind == "source_not_selected"
    not_enabled = m.step({"a": 0.05}, MEASURED, 0.02, POLICY)
    assert not_enabled.command is None and not_enabled.events[0].kind == "not_enabled"
    assert m.enable(True, MEASURED, 1.0).ok
    safe, _ = m.step({"a": 0.06}, MEASURED, 1.05, POLICY)  # a quarter into the 0.2 s ramp
    assert safe == pytest.approx({"a": 0.015, "b": 1.0})
    safe, _ = m.step({"a": 0.06}, MEASURED, 1.25, POLICY)  # ramp done
    assert safe == pytest.approx({"a": 0.06, "b": 1.0})
    assert m.select(TELEOP, 1.3).ok and not m.operator.enabled  # switching back disables the policy


def test_enable_is_refused_under_estop_or_without_a_pose() -> None:
    m = monitor()
    assert "no measured pose" in m.enable(True, {"a": 0.0}, 0.0).message
    m.estop(True, MEASURED, 0.0)
    assert "e-stop is latched" in m.enable(True, MEASURED, 0.1).message


def test_stale_camera_and_stale_chunk_hold_the_policy_not_the_teleop() -> None:
    m = monitor(source=POLICY)
    m.enable(True, MEASURED, 0.0)
    m.observe_camera(0.0)
    stale = m.step({"a": 0.0}, MEASURED, 0.4, POLICY)
    assert stale.command == MEASURED and stale.events[0].kind == "stale_camera" and m.state == "holding (stale_camera)"
    m.observe_camera(0.45)
    old = m.step({"a": 0.0}, MEASURED, 0.5, POLICY, stamp_s=-0.1)
    assert old.command == MEASURED and old.events[0].kind == "stale_chunk"
    fresh = m.step({"a": 0.0}, MEASURED, 0.55, POLICY, stamp_s=0.3)
    assert fresh.command is not None and m.state == "passing"
    t = monitor()
    t.observe_camera(0.0)
    assert t.step({"a": 0.0}, MEASURED, 5.0).command is not None and t.state == "passing"


def test_a_foreign_publisher_latches_the_estop() -> None:
    m = monitor()
    assert m.publishers_seen(1, MEASURED, 0.0) is None
    hold = m.publishers_seen(2, MEASURED, 0.1)
    assert hold is not None and hold.events[0].kind == "foreign_publisher" and m.estop_latch.engaged
    assert m.publishers_seen(2, MEASURED, 0.2) is None  # reported once
    assert m.reset_estop(0.3).ok  # no button to release: the operator resets after removing it


def test_reset_forgets_state() -> None:
    m = monitor()
    m.estop(True, MEASURED, 0.0)
    m.select(POLICY, 0.0)
    m.reset()
    assert not m.estop_latch.engaged and m.sources.selected == TELEOP and m.state == "waiting for joint states"
    assert math.isclose(m.step({"a": 0.05}, MEASURED, 1.0).command["a"], 0.05)  # type: ignore[index]


def test_interpolation_for_a_faster_driver_stays_on_the_segment_and_holds_at_once() -> None:
    from dreamgen_core.safety.interpolate import CommandInterpolator

    interp = CommandInterpolator(0.05, {"a": 2.0})
    assert interp.at(0.0) is None
    interp.push({"a": 0.0}, 0.0, hold=False)
    interp.push({"a": 0.1}, 0.05, hold=False)
    points = [interp.at(0.05 + k * 0.005)["a"] for k in range(12)]  # type: ignore[index]
    assert points[0] == pytest.approx(0.0) and points[5] == pytest.approx(0.05) and points[-1] == pytest.approx(0.1)
    assert all(0 <= b - a <= 2.0 * 0.005 + 1e-12 for a, b in itertools.pairwise(points))  # forward, within 2 rad/s
    interp.push({"a": 0.2}, 0.125, hold=False)  # continues from where it is
    assert interp.at(0.125)["a"] == pytest.approx(0.1)  # type: ignore[index]
    interp.push({"a": 0.3}, 0.13, hold=False)  # early (jitter), at 0.11: 0.19 rad left, stretched to 2 rad/s
    assert interp.at(0.13 + 0.05)["a"] == pytest.approx(0.11 + 0.1)  # type: ignore[index]
    interp.push({"a": -0.3}, 0.13, hold=True)
    assert interp.at(0.13) == {"a": -0.3}  # a hold is not interpolated


def test_dropped_commands_are_reported_when_the_reason_changes_not_each_time() -> None:
    m = monitor()
    kinds = [[e.kind for e in m.step({"a": 0.0}, MEASURED, t, POLICY).events] for t in (0.0, 0.05, 0.1)]
    assert kinds == [["source_not_selected"], [], []]
    m.select(POLICY, 0.15)
    assert [e.kind for e in m.step({"a": 0.0}, MEASURED, 0.2, POLICY).events] == ["not_enabled"]
    assert m.step({"a": 0.0}, MEASURED, 0.25, POLICY).events == [] and m.rejected == 5
