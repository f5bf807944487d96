"""JointStateCheck without ROS: coverage and rate of a joint-state stream, joints accumulated across
messages (the real GR1 publishes body and hands in separate JointState messages)."""

from __future__ import annotations

import numpy as np
import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.joint_check import JointStateCheck

SPEC = load_embodiment("gr1")
HANDS = [n for g in SPEC.layout if g.group.endswith("_hand") for n in g.joints]
BODY = [n for n in SPEC.joints if n not in HANDS]  # the URDF order, not the layout's
EXPECTED_HZ = SPEC.rates.joint_states_min_hz


def pose(names: list[str], t: float) -> list[float]:
    return [SPEC.slot(n) + t / 10 for n in names]  # each joint's value names its slot and the time (< 1)


def feed(check: JointStateCheck, streams: list[tuple[list[str], float]], seconds: float = 2.0) -> None:
    """Interleave messages of several (joints, rate) streams by receive time, as one topic delivers them."""
    events = sorted((k / rate, i) for i, (_, rate) in enumerate(streams) for k in range(int(seconds * rate)))
    for t, i in events:
        names = streams[i][0]
        check.observe(names, pose(names, t), 100.0 + t)


def test_body_and_hands_in_separate_messages_pass() -> None:
    check = JointStateCheck(SPEC)
    feed(check, [(BODY, 1.2 * EXPECTED_HZ), (HANDS, 1.2 * EXPECTED_HZ)])
    assert check.problems() == []
    report = check.report()
    assert report["ok"] and report["missing"] == [] and report["unknown"] == []
    assert report["rate_hz"] == pytest.approx(1.2 * EXPECTED_HZ, rel=0.02)
    # Each slot holds its joint's latest value: body values survive the hand messages and vice versa.
    latest = np.array(report["last_vector"])
    assert np.all(np.floor(latest) == np.arange(SPEC.dim))
    last_t = (int(2.0 * 1.2 * EXPECTED_HZ) - 1) / (1.2 * EXPECTED_HZ)
    assert latest[SPEC.slot(BODY[0])] == pytest.approx(pose([BODY[0]], last_t)[0])  # the last body message's


def test_a_subset_is_never_received() -> None:
    check = JointStateCheck(SPEC)
    feed(check, [(BODY, 1.2 * EXPECTED_HZ)])
    assert check.missing == [n for n in SPEC.joint_names if n in HANDS]
    assert check.problems() == [f"joints of the spec never received: {sorted(HANDS)}"]
    assert check.report()["last_vector"][SPEC.slot(HANDS[0])] == 0.0


def test_the_slowest_joint_sets_the_rate() -> None:
    check = JointStateCheck(SPEC)
    feed(check, [(BODY, 2 * EXPECTED_HZ), (HANDS, EXPECTED_HZ / 2)])
    assert check.rate_hz == pytest.approx(EXPECTED_HZ / 2, rel=0.02)
    assert check.messages > 2 * EXPECTED_HZ * 2  # per message, the body alone would look fast enough
    expected = f"rate {check.rate_hz:.1f} Hz (slowest joint) below 90% of the expected {EXPECTED_HZ:g} Hz"
    assert check.problems() == [expected]


def test_unknown_names_and_silence() -> None:
    check = JointStateCheck(SPEC)
    assert check.problems()[0] == "no joint states received" and check.rate_hz == 0.0
    names = [*BODY, *HANDS]
    for k in range(int(1.2 * EXPECTED_HZ)):
        check.observe([*names, "left_elbow_joint"], [*pose(names, 0.0), 1.0], k / (1.2 * EXPECTED_HZ))
    assert check.problems() == ["joints not in the spec: ['left_elbow_joint']"]
