"""Deploy's pure parts: observations by the converter's rules, the policy-fits check, fault plans."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dreamgen_core.convert import ConvertConfig
from dreamgen_core.deploy.compat import check_policy_fits
from dreamgen_core.deploy.errors import DeployError, PolicyMismatch
from dreamgen_core.deploy.faults import FaultPlan, InjectedCrash
from dreamgen_core.deploy.observation import ObservationAssembler
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.timeline import NS, frame_times, select_latest
from dreamgen_core.video import ModelViewTransform

SPEC = load_embodiment("gr1")
CAMERA = next(iter(SPEC.cameras.values()))
KEY = CAMERA.model_view.video_key


def test_live_observations_pick_what_the_converter_picks() -> None:
    """Joint states at ~100 Hz and frames at ~30 Hz with jittered stamps, a dropout in each; at every
    dataset frame time the assembler returns the converter's choice (`select_latest` with the
    converter's default tolerances) and the converter's model view of that frame, or a gap where
    the converter would report one."""
    rng = np.random.default_rng(0)
    rules = ConvertConfig()
    joint_ns = np.cumsum(rng.integers(8, 12, 400)) * 1_000_000
    joint_ns = joint_ns[(joint_ns < 1_500_000_000) | (joint_ns > 1_700_000_000)]  # 0.2 s without joint states
    frame_ns = np.cumsum(rng.integers(28, 38, 120)) * 1_000_000
    frame_ns = frame_ns[(frame_ns < 2_500_000_000) | (frame_ns > 2_700_000_000)]
    states = rng.uniform(-0.5, 0.5, (len(joint_ns), SPEC.dim))
    frames = rng.integers(0, 255, (len(frame_ns), 100, 160, 3), dtype=np.uint8)
    live = ObservationAssembler(SPEC, rules.state_tolerance_s, rules.image_tolerance_s)
    events = sorted([(t, 0, i) for i, t in enumerate(joint_ns)] + [(t, 1, i) for i, t in enumerate(frame_ns)])
    times = frame_times(int(joint_ns[0]), int(min(joint_ns[-1], frame_ns[-1])), SPEC.rates.dataset_fps)
    picked_j = select_latest(joint_ns, times, int(rules.state_tolerance_s * NS))
    picked_f = select_latest(frame_ns, times, int(rules.image_tolerance_s * NS))
    view = ModelViewTransform.for_camera(CAMERA)
    cursor, gaps = 0, 0
    for k, t in enumerate(times):
        while cursor < len(events) and events[cursor][0] <= t:
            stamp, kind, i = events[cursor]
            if kind == 0:
                live.add_joints(int(stamp), SPEC.joint_names, states[i])
            else:
                live.add_frame(KEY, int(stamp), frames[i])
            cursor += 1
        obs = live.at(int(t))
        if not (picked_j.valid[k] and picked_f.valid[k]):
            assert isinstance(obs, str), k
            gaps += 1
            continue
        assert not isinstance(obs, str), (k, obs)
        np.testing.assert_array_equal(obs.state, states[picked_j.index[k]].astype(np.float32))
        np.testing.assert_array_equal(obs.images[KEY], view(frames[picked_f.index[k]]))
        assert obs.stamp_ns == max(joint_ns[picked_j.index[k]], frame_ns[picked_f.index[k]])
    assert gaps >= 4  # both dropouts were seen as gaps


def test_joint_states_split_over_messages_fill_one_vector() -> None:
    live = ObservationAssembler(SPEC, 0.05, 0.1)
    half = len(SPEC.joint_names) // 2
    live.add_joints(1_000, SPEC.joint_names[:half], [0.1] * half)
    live.add_frame(KEY, 1_000, np.zeros((100, 160, 3), np.uint8))
    assert "no joint state" in str(live.at(2_000))  # half the joints only: not an observation yet
    live.add_joints(2_000, SPEC.joint_names[half:], [0.2] * (SPEC.dim - half))
    obs = live.at(3_000)
    assert not isinstance(obs, str) and obs.state[0] == pytest.approx(0.1) and obs.state[-1] == pytest.approx(0.2)


def test_a_policy_for_another_embodiment_or_calibration_is_refused() -> None:
    ours = {"embodiment": {"name": "gr1", "content_hash": SPEC.content_hash}}
    check_policy_fits(ours, SPEC, None, "policy.yaml")
    with pytest.raises(PolicyMismatch, match=r"policy.yaml: embodiment.content_hash 0000000000000000… is not the "
                                             r"robot's gr1 spec"):
        check_policy_fits({"embodiment": {"name": "gr1", "content_hash": "0" * 64}}, SPEC, None, "policy.yaml")
    calibrated = {**ours, "calibration": {"content_hash": "a" * 64}}
    check_policy_fits(calibrated, SPEC, "a" * 64, "policy.yaml")
    check_policy_fits(calibrated, SPEC, None, "policy.yaml")  # the robot did not say: nothing to compare
    with pytest.raises(PolicyMismatch, match="calibration.content_hash aaaaaaaaaaaaaaaa… is not this robot's"):
        check_policy_fits(calibrated, SPEC, "b" * 64, "policy.yaml")


def test_fault_plans() -> None:
    chunk = np.zeros((4, 3), np.float32)
    stop = threading.Event()
    assert FaultPlan.parse("").apply(9, chunk, stop) is chunk
    nan = FaultPlan.parse("nan@3")
    assert nan.apply(2, chunk, stop) is chunk and np.isnan(nan.apply(3, chunk, stop)).all()
    assert FaultPlan.parse("offset:2.5@1").apply(1, chunk, stop)[0, 0] == pytest.approx(2.5)
    with pytest.raises(InjectedCrash):
        FaultPlan.parse("crash@2").apply(5, chunk, stop)
    stop.set()
    with pytest.raises(InjectedCrash, match="hang ended"):
        FaultPlan.parse("hang").apply(1, chunk, stop)  # returns once the node stops
    with pytest.raises(DeployError, match="known: nan, crash, hang, slow, offset"):
        FaultPlan.parse("explode@1")
