"""Two ROS 2 processes started by dreamgen's tooling exchange GR1 joint states over Fast DDS."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from sensor_msgs.msg import JointState

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.ros.discovery import DomainClaim, localhost_env
from dreamgen_core.ros.node_process import NodeProcess

SPEC = load_embodiment("gr1")
HANDS = [n for g in SPEC.layout if g.group.endswith("_hand") for n in g.joints]
BODY = [n for n in SPEC.joints if n not in HANDS]


def mid(names: list[str]) -> list[float]:
    return [(SPEC.joints[n].lower + SPEC.joints[n].upper) / 2 for n in names]


def proc_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def run_check(env: dict[str, str], tmp_path: Path, publisher_env: dict[str, str], seconds: float = 2.0,
              discovery_s: float = 10.0):
    """pose_publisher on `publisher_env`, joint_state_check on `env` (judging `seconds` from the first
    message, waiting up to `discovery_s` for it); returns (code, report, envs, log)."""
    report = tmp_path / "report.json"
    log_path = tmp_path / "nodes.log"
    with open(log_path, "wb") as log:
        # 1.5x the spec's minimum rate: a loaded 2-core machine must not fail the placement check on rate.
        rate_hz = 1.5 * SPEC.rates.joint_states_min_hz
        with NodeProcess("dreamgen", "pose_publisher", {"embodiment": "gr1", "rate_hz": rate_hz}, env=publisher_env,
                         log=log) as pub:
            check = NodeProcess("dreamgen", "joint_state_check",
                                {"embodiment": "gr1", "duration_s": seconds, "report": str(report),
                                 "discovery_timeout_s": discovery_s}, env=env, log=log).start()
            code = check.wait(timeout=discovery_s + seconds + 30)
            # Read once the publisher has long been running: a read right after the start raced the process's
            # exec once and found no ROS_AUTOMATIC_DISCOVERY_RANGE. The check reports its own (node_env).
            envs = [proc_environ(pub.pid)]
    return code, json.loads(report.read_text()), envs, log_path.read_text()


@pytest.mark.ros
def test_joint_states_by_name_between_two_processes(ros_env: dict[str, str], tmp_path: Path) -> None:
    code, report, envs, log = run_check(ros_env, tmp_path, ros_env)
    assert code == 0, log
    assert report["ok"], report["problems"]
    assert report["messages"] > 50
    assert report["missing"] == [] and report["unknown"] == []
    assert report["joint_names"] == list(SPEC.joint_names)
    # The publisher sends the URDF order; the receiver placed each value into its layout slot by name.
    assert report["last_vector"] == pytest.approx(mid(list(SPEC.joint_names)))
    for env in (*envs, report["node_env"]):
        assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
        assert env["ROS_DOMAIN_ID"] == ros_env["ROS_DOMAIN_ID"]
        assert not env.get("ROS_LOCALHOST_ONLY")


@pytest.mark.ros
def test_another_domain_hears_nothing(ros_env: dict[str, str], tmp_path: Path) -> None:
    with DomainClaim() as other:
        assert str(other) != ros_env["ROS_DOMAIN_ID"]
        code, report, _, log = run_check(localhost_env(other, ros_env), tmp_path, ros_env, seconds=1.5,
                                         discovery_s=3.0)
    assert code == 1, log
    assert report["messages"] == 0
    assert report["problems"][0] == "no joint states received"
    assert report["node_env"]["ROS_DOMAIN_ID"] == str(other)



def check_split_publisher(env: dict[str, str], tmp_path: Path, messages: list[list[str]], seconds: float = 4.0):
    """joint_state_check in its own process, while this process publishes one JointState per entry of
    `messages` (each a list of joint names) every period, as the real GR1 sends body and hands apart."""
    report, log_path = tmp_path / "report.json", tmp_path / "check.log"
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("split_joint_states", context=context)
    try:
        publisher = node.create_publisher(JointState, SPEC.ros.joint_states.name, 50)
        period_s = 1 / (1.5 * SPEC.rates.joint_states_min_hz)
        with open(log_path, "wb") as log, NodeProcess(
                "dreamgen", "joint_state_check", {"embodiment": "gr1", "duration_s": seconds, "report": str(report)},
                env=env, log=log) as check:
            assert check.process is not None
            deadline, next_s = time.monotonic() + seconds + 30, time.monotonic()
            while check.process.poll() is None and time.monotonic() < deadline:
                for names in messages:
                    publisher.publish(JointState(name=names, position=mid(names)))
                next_s += period_s
                time.sleep(max(0.0, next_s - time.monotonic()))
            code = check.wait(timeout=10)
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    return code, json.loads(report.read_text()), log_path.read_text()


@pytest.mark.ros
def test_body_and_hands_in_separate_messages_pass_joint_check(ros_env: dict[str, str], tmp_path: Path) -> None:
    code, report, log = check_split_publisher(ros_env, tmp_path, [BODY, HANDS])
    assert code == 0, log
    assert report["ok"] and report["missing"] == [], report["problems"]
    assert report["rate_hz"] >= 0.9 * SPEC.rates.joint_states_min_hz
    # Every slot holds its joint's value, whichever of the two messages carried it.
    assert report["last_vector"] == pytest.approx(mid(list(SPEC.joint_names)))


@pytest.mark.ros
def test_a_robot_without_hand_messages_fails_joint_check(ros_env: dict[str, str], tmp_path: Path) -> None:
    code, report, log = check_split_publisher(ros_env, tmp_path, [BODY])
    assert code == 1, log
    assert report["messages"] > 0 and report["missing"] == sorted(HANDS), report
    assert report["problems"] == [f"joints of the spec never received: {sorted(HANDS)}"]
