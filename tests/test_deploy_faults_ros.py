"""Fault injection through the real nodes: safety_monitor and policy_node in their own processes over
DDS on loopback; this process plays the robot (joint states that follow every command, a small
camera stream with its camera_info) and the operator (enable, e-stop, reset, a rogue publisher).

The policy is a real tiny PolicyNet checkpoint on the torch runtime whose output is constant: the
left elbow 0.3 rad above the start pose, every other joint at the start pose; faults are injected
at the runtime's boundary (`policy_node`'s `fault` parameter) or published by this process.

Every command on /gr1/joint_command is checked against the envelope, and each reaction is counted
in commands (one per control period while holding): the e-stop within 1, the watchdog within
source_timeout + 2 control periods.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest
import yaml
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger
from test_safety_monitor_ros import SPEC, Robot, mid_pose, positions

from dreamgen_core.ros.node_process import NodeProcess
from dreamgen_core.safety import Envelope

ELBOW = "left_elbow_pitch_joint"
PERIOD = 1 / SPEC.rates.control_hz
TIMEOUT_S = SPEC.safety.source_timeout_s
ENVELOPE = Envelope.from_spec(SPEC)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return constant_policy(tmp_path_factory.mktemp("policy"))


def constant_policy(out: Path) -> Path:
    """A tiny regression PolicyNet whose last layer is zero: normalized output 0, i.e. the middle of
    the action range, which is the start pose + 0.3 rad on the left elbow."""
    import torch

    from dreamgen_core.policy.checkpoint import PolicyCheckpoint, build_model, save_policy
    from dreamgen_core.policy.config import PolicyConfig, TextEncoderSpec
    from dreamgen_core.policy.preprocess import PolicyNorm

    start = np.array([mid_pose()[n] for n in SPEC.joint_names], dtype=np.float32)
    target = start.copy()
    target[SPEC.slot(ELBOW)] += 0.3
    lo = np.array([SPEC.joints[n].lower for n in SPEC.joint_names], dtype=np.float32)
    hi = np.array([SPEC.joints[n].upper for n in SPEC.joint_names], dtype=np.float32)
    keys = tuple(c.model_view.video_key for c in SPEC.cameras.values())
    text = TextEncoderSpec(dim=16)
    config = PolicyConfig(head="regression", hidden=32, image_size=32, text=text, horizon=16)
    norm = PolicyNorm(lo, hi, lo, hi, target - 1, target + 1, target - 0.5, target + 0.5, 32, keys)
    model = build_model(config, norm, text)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    save_policy(out, PolicyCheckpoint(model, config, norm, SPEC.name, SPEC.content_hash, SPEC.joint_names, text,
                                      keys, 16))
    return out


class Operator(Robot):
    """The robot (joint states, camera) plus the operator's and a rogue node's handles."""

    def __init__(self) -> None:
        super().__init__(SPEC, mid_pose())
        cam = next(iter(SPEC.cameras.values()))
        self.image_pub = self.node.create_publisher(Image, cam.topic, RELIABLE)
        self.info_pub = self.node.create_publisher(CameraInfo, cam.info_topic, 10)
        self.estop_pub = self.node.create_publisher(Bool, SPEC.ros.estop.name, RELIABLE)
        self.policy_pub = self.node.create_publisher(JointState, SPEC.ros.policy_command.name, RELIABLE)
        self.camera_on = True
        self.states_on = True
        self.frame = np.full((100, 160, 3), 90, dtype=np.uint8)

    def publish_state(self) -> None:
        if self.states_on:
            super().publish_state()
        if self.camera_on:
            msg = Image(height=100, width=160, encoding="rgb8", step=480, data=self.frame.tobytes())
            msg.header.stamp = self.node.get_clock().now().to_msg()
            self.image_pub.publish(msg)
            self.info_pub.publish(CameraInfo(width=160, height=100))

    def call(self, service: str, kind: type, request: object) -> object:
        client = self.node.create_client(kind, service)
        end = time.monotonic() + 20
        while not client.service_is_ready() and time.monotonic() < end:
            self.run(0.1)
        assert client.service_is_ready(), f"{service} never appeared"
        future = client.call_async(request)
        self.run(10.0, until=future.done)
        assert future.done(), f"{service} did not answer"
        self.node.destroy_client(client)
        return future.result()

    def since(self, t: float) -> list[JointState]:
        return [m for s, m in self.commands if s >= t]


@contextmanager
def stack(ros_env: dict[str, str], tmp_path: Path, policy: Path | None, fault: str = "",
          **policy_params: object) -> Iterator[tuple[Operator, dict[str, Path]]]:
    """safety_monitor (policy selected) [+ policy_node]; yields the operator and the node logs."""
    op = Operator()
    logs: dict[str, Path] = {}
    try:
        with ExitStack() as nodes:
            def start(executable: str, params: dict[str, object]) -> None:
                logs[executable] = tmp_path / f"{executable}.log"
                out = nodes.enter_context(open(logs[executable], "wb"))
                nodes.enter_context(NodeProcess("dreamgen", executable, {"embodiment": "gr1", **params},
                                                env=ros_env, log=out))
            start("safety_monitor", {"source": "policy"})
            if policy is not None:
                # An injected fault counts inference calls: the node waits for the test to activate it after
                # the operator's enable (engage_then_activate), or a slow start would spend them before it.
                faults = {"fault": fault, "autostart": False} if fault else {}  # an empty -p value does not parse
                start("policy_node", {"policy": str(policy), "runtime": "torch", "instruction": "raise the elbow",
                                      **faults, **policy_params})
            op.run(30.0, until=lambda: len(op.commands) >= 3)  # the monitor holds the start pose: it is up
            assert len(op.commands) >= 3, logs["safety_monitor"].read_text()
            yield op, logs
    finally:
        op.close()
    check_envelope(op)


def check_envelope(op: Operator) -> None:
    """Nothing outside the envelope ever reached the robot: finite, within limits, every passing step
    within the velocity/step-delta reach of the command before it."""
    sent = [(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, m.header.frame_id, positions(m)) for _, m in op.commands]
    for (t0, _, a), (t1, why, b) in itertools.pairwise(sent):
        for name in SPEC.joint_names:
            bounds = ENVELOPE.joints[name]
            assert np.isfinite(b[name]) and bounds.lower - 1e-9 <= b[name] <= bounds.upper + 1e-9, (name, b[name])
            if why == "passing":
                reach = bounds.reach(min(max(t1 - t0, 0.0), TIMEOUT_S))
                assert abs(b[name] - a[name]) <= reach + 1e-6, (name, a[name], b[name], reach)


def engage(op: Operator) -> None:
    reply = op.call("/safety_monitor/enable", SetBool, SetBool.Request(data=True))
    assert reply.success, reply.message  # type: ignore[attr-defined]


def engage_then_activate(op: Operator) -> None:
    """Enable the policy source, then configure and activate policy_node through its lifecycle services."""
    engage(op)
    for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        reply = op.call("/policy_node/change_state", ChangeState, ChangeState.Request(transition=Transition(id=transition)))
        assert reply.success, transition  # type: ignore[attr-defined]


def held_within(op: Operator, t: float, wall_s: float, why: str, limit_s: float) -> bool:
    """The first hold for `why` after the input stopped at wall time `wall_s` came within `limit_s` + 2
    control periods of it (the command's stamp is the monitor's decision time, on the same clock)."""
    holds = [m for m in op.since(t) if m.header.frame_id == f"holding ({why})"]
    if not holds:
        return False
    delay = holds[0].header.stamp.sec + holds[0].header.stamp.nanosec * 1e-9 - wall_s
    assert delay <= limit_s + 2 * PERIOD + 0.02, (why, delay)  # + the test's own publishing period
    return True


def passing_after(op: Operator, t: float) -> int:
    return sum(m.header.frame_id == "passing" for m in op.since(t))


def first_hold_after(op: Operator, t: float, why: str) -> int:
    """How many commands were sent after `t` before the first hold for `why` (the reaction in periods)."""
    for i, m in enumerate(op.since(t)):
        if m.header.frame_id == f"holding ({why})":
            return i
    raise AssertionError(f"no hold ({why}) after t; got {[m.header.frame_id for m in op.since(t)][:10]}")


def test_policy_moves_the_robot_then_estop_holds_within_one_period(ros_env, tmp_path, policy_dir) -> None:
    with stack(ros_env, tmp_path, policy_dir) as (op, logs):
        start = mid_pose()[ELBOW]
        op.run(3.0)
        assert passing_after(op, 0) == 0, "the policy moved the robot before the operator enabled it"
        engage(op)
        op.run(30.0, until=lambda: op.pose[ELBOW] > start + 0.05)
        assert op.pose[ELBOW] > start + 0.05, logs["policy_node"].read_text()[-3000:]
        pressed = time.monotonic()
        op.estop_pub.publish(Bool(data=True))
        op.run(1.0)
        after = op.since(pressed)
        assert first_hold_after(op, pressed, "estop") <= 1
        held = positions(after[-1])
        assert all(positions(m) == held for m in after[2:]) and passing_after(op, pressed + PERIOD * 3) == 0
        # Released on the topic: still latched; reset; the policy must be enabled again.
        op.estop_pub.publish(Bool(data=False))
        op.run(0.5)
        assert passing_after(op, pressed + PERIOD * 3) == 0
        assert op.call("/safety_monitor/reset_estop", Trigger, Trigger.Request()).success  # type: ignore[attr-defined]
        op.run(1.0)
        assert passing_after(op, pressed + PERIOD * 3) == 0
        engage(op)
        resumed = time.monotonic()
        op.run(20.0, until=lambda: passing_after(op, resumed) > 5)
        assert passing_after(op, resumed) > 5


EXPECTED_LOG = {"crash": "injected crash", "hang": "has not answered", "slow": "chunk refused"}


@pytest.mark.parametrize("fault, reason", [("crash@4", "crash"), ("hang@4", "hang"), ("slow:1.5@3", "slow")])
def test_a_crashing_hanging_or_slow_policy_is_held_by_the_watchdog(ros_env, tmp_path, policy_dir, fault,
                                                                   reason) -> None:
    """Crash: 3 failed calls and the node deactivates itself; hang: the call never returns; slow:
    1.5 s per call, longer than a chunk (0.8 s) and the chunk age limit (1 s), so every chunk is
    refused. Each time the policy falls silent and the monitor holds."""
    with stack(ros_env, tmp_path, policy_dir, fault=fault) as (op, logs):
        engage_then_activate(op)
        op.run(40.0, until=lambda: passing_after(op, 0) > 3 and op.commands[-1][1].header.frame_id.startswith("hold"))
        frames = [m.header.frame_id for _, m in op.commands]
        last_pass = max(i for i, f in enumerate(frames) if f == "passing")
        stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in op.commands]
        holds = [i for i in range(last_pass + 1, len(frames)) if frames[i] == "holding (source_silent)"]
        assert holds, (frames[-20:], logs["policy_node"].read_text()[-2000:])
        reaction = stamps[holds[0]] - stamps[last_pass]
        assert reaction <= TIMEOUT_S + 2 * PERIOD + 1e-3, reaction  # the monitor's clock: its tick's own period
        op.run(1.0)
        assert passing_after(op, op.commands[holds[0]][0]) == 0
        text = logs["policy_node"].read_text()
        assert EXPECTED_LOG[reason] in text, text[-2000:]


def test_nan_and_out_of_limit_chunks_never_reach_the_robot(ros_env, tmp_path, policy_dir) -> None:
    with stack(ros_env, tmp_path, policy_dir, fault="nan@3") as (op, logs):
        engage_then_activate(op)
        op.run(30.0, until=lambda: any(m.header.frame_id == "holding (non_finite)" for _, m in op.commands))
        assert any(m.header.frame_id == "holding (non_finite)" for _, m in op.commands), \
            logs["policy_node"].read_text()[-2000:]
    with stack(ros_env, tmp_path, policy_dir, fault="offset:5.0@3") as (op, logs):
        engage_then_activate(op)
        op.run(30.0, until=lambda: any(positions(m)[ELBOW] >= ENVELOPE.joints[ELBOW].upper - 1e-9
                                       for _, m in op.commands))
        top = max(positions(m)[ELBOW] for _, m in op.commands)
        assert top == pytest.approx(ENVELOPE.joints[ELBOW].upper)  # clamped at the limit minus margin


def test_rogue_commands_stale_inputs_pose_jump_and_a_second_publisher(ros_env, tmp_path) -> None:
    """No policy node: this process is the (faulty) policy on /policy/joint_command: huge deltas and
    unknown joint names, NaN, a stale camera, a jump in the measured pose, stale joint states, and
    finally a second publisher on the robot command topic."""
    with stack(ros_env, tmp_path, None) as (op, logs):
        engage(op)
        pose = dict(op.pose)
        huge = JointState(name=[ELBOW, "no_such_joint"], position=[pose[ELBOW] + 2.0, 1.0])
        sent = time.monotonic()
        op.run(1.0, every=lambda: op.policy_pub.publish(huge), period_s=PERIOD)
        moved = [positions(m)[ELBOW] for m in op.since(sent)]
        steps = np.diff(moved)
        assert moved and steps.max() <= SPEC.safety.max_step_delta + 1e-9  # huge deltas: one bounded step each
        assert "unknown_joint: no_such_joint" in logs["safety_monitor"].read_text()  # dropped, reported
        nan = JointState(name=[ELBOW], position=[float("nan")])
        t_nan = time.monotonic()
        op.run(0.3, every=lambda: op.policy_pub.publish(nan), period_s=PERIOD)
        assert first_hold_after(op, t_nan, "non_finite") <= 1
        # The camera stops: policy commands are held after stale_camera_s.
        op.camera_on = False
        t_cam, wall_cam = time.monotonic(), time.time()
        ok = JointState(name=[ELBOW], position=[op.pose[ELBOW]])
        op.run(SPEC.safety.stale_camera_s + 1.0, every=lambda: op.policy_pub.publish(ok), period_s=PERIOD)
        assert held_within(op, t_cam, wall_cam, "stale_camera", SPEC.safety.stale_camera_s), logs
        op.camera_on = True
        # The measured pose jumps 0.5 rad (an encoder glitch): commands go on from the last target,
        # never toward the glitch in one step (check_envelope); then joint states stop: held.
        op.pose[ELBOW] += 0.5
        t_stale = time.monotonic()
        op.run(0.5, every=lambda: op.policy_pub.publish(ok), period_s=PERIOD)
        op.states_on = False
        t_js, wall_js = time.monotonic(), time.time()
        op.run(SPEC.safety.stale_joint_states_s + 1.0, every=lambda: op.policy_pub.publish(ok), period_s=PERIOD)
        assert held_within(op, t_js, wall_js, "stale_joint_states", SPEC.safety.stale_joint_states_s)
        assert op.since(t_stale)
        op.states_on = True
        op.run(1.0, every=lambda: op.policy_pub.publish(ok), period_s=PERIOD)
        # A second publisher on the robot command topic: the monitor latches the e-stop.
        rogue = op.node.create_publisher(JointState, SPEC.ros.robot_command.name, RELIABLE)
        t_rogue = time.monotonic()
        op.run(10.0, until=lambda: any(m.header.frame_id == "holding (estop)" for m in op.since(t_rogue)))
        op.node.destroy_publisher(rogue)
        assert any(m.header.frame_id == "holding (estop)" for m in op.since(t_rogue))
        assert "foreign_publisher" in logs["safety_monitor"].read_text()


def test_a_policy_for_another_embodiment_is_refused_at_configure(ros_env, tmp_path, policy_dir) -> None:
    other = tmp_path / "other_policy"
    other.mkdir()
    for f in policy_dir.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    doc = yaml.safe_load((other / "policy_config.yaml").read_text())
    doc["embodiment"]["content_hash"] = "0" * 64
    (other / "policy_config.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    log = tmp_path / "policy_node.log"
    with open(log, "wb") as out, NodeProcess("dreamgen", "policy_node", {"policy": str(other), "runtime": "torch"},
                                             env=ros_env, log=out):
        end = time.monotonic() + 60
        while "configure refused" not in log.read_text() and time.monotonic() < end:
            time.sleep(0.2)
    text = log.read_text()
    assert "configure refused: PolicyMismatch" in text and "0000000000000000" in text, text[-2000:]
    assert "active:" not in text
