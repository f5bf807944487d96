"""`dreamgen doctor`: the environment and host lines, and the collect graph checked by a real recorder in
check mode against a real publisher; exit code = verdict."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from dreamgen_core.cli.doctor_cmd import disk, environment
from dreamgen_core.recording.graph_check import Level
from dreamgen_core.ros.node_process import NodeProcess
from dreamgen_core.ros.transport import LOOPBACK_PROFILE, PROFILE_VAR, SUBNET_PROFILE


def test_a_loopback_profile_with_subnet_discovery_fails_and_a_missing_one_warns() -> None:
    subnet = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET", "ROS_DOMAIN_ID": "7"}
    cut_off = [f for f in environment({**subnet, PROFILE_VAR: str(LOOPBACK_PROFILE)}) if f.text.startswith("transport")]
    assert [f.level for f in cut_off] == [Level.FAIL]
    assert "they cannot talk to this one; use " + str(SUBNET_PROFILE) in cut_off[0].text
    unset = [f for f in environment(subnet) if f.text.startswith("transport")]
    assert [f.level for f in unset] == [Level.WARN]
    assert unset[0].text.endswith(f"export {PROFILE_VAR}={SUBNET_PROFILE}")
    assert [f.level for f in environment({**subnet, PROFILE_VAR: str(SUBNET_PROFILE)})
            if f.text.startswith(("transport", "discovery"))] == [Level.OK, Level.OK]


def test_disk_below_the_recorders_minimum_fails(tmp_path: Path) -> None:
    assert disk(tmp_path / "not" / "yet", 1).level is Level.OK
    low = disk(tmp_path, 10**9)
    assert low.level is Level.FAIL and "the recorder refuses below 1000000000 MB" in low.text


def doctor(cli: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), "doctor", "--seconds", "2", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.ros
def test_doctor_names_each_missing_topic_and_passes_when_the_required_ones_flow(
        ros_env: dict[str, str], tmp_path: Path, cli: Path) -> None:
    out = str(tmp_path / "episodes")
    log_path = tmp_path / "pose_publisher.log"
    with open(log_path, "wb") as log, NodeProcess("dreamgen", "pose_publisher", env=ros_env, log=log):
        deadline = time.monotonic() + 30  # the graph is up before the doctor looks at it, as on a robot
        while b"publishing 44 joints" not in log_path.read_bytes():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        # Joint states expected at 20 Hz (the fake pose publishes 200): the check, not this machine's
        # load, decides. First every robot topic required, then only joint states.
        joints = {"topic": "/joint_states", "type": "sensor_msgs/msg/JointState", "rate_hz": 20, "required": True}
        strict, relaxed = tmp_path / "strict.yaml", tmp_path / "relaxed.yaml"
        strict.write_text(yaml.safe_dump({"recording": {"topics": [joints]}}))
        relaxed.write_text(yaml.safe_dump({"recording": {"topics": [joints] + [
            {"topic": t, "type": "sensor_msgs/msg/" + ty, "required": False} for t, ty in (
                ("/camera/ego_view/image_raw", "Image"), ("/teleop/joint_command", "JointState"),
                ("/gr1/joint_command", "JointState"))]}}))
        missing = doctor(cli, ros_env, "--output-dir", out, "--config", str(strict))
        ready = doctor(cli, ros_env, "--output-dir", out, "--config", str(relaxed))
    assert missing.returncode == 1, missing.stdout + missing.stderr
    lines = missing.stdout.splitlines()
    assert "FAIL graph: /camera/ego_view/image_raw: no publisher" in lines
    assert "warn graph: /camera/ego_view/camera_info: no publisher" in lines
    (joints,) = [line for line in lines if line.startswith(("ok   graph: /joint_states", "FAIL graph: /joint_states"))]
    assert joints.startswith("ok   graph: /joint_states: ") and "offered by /pose_publisher reliable/volatile" in joints
    assert lines[-1] == "doctor: 3 check(s) failed"
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert ready.stdout.splitlines()[-1] == "doctor: ready to collect"
    assert "warn graph: /camera/ego_view/image_raw: no publisher" in ready.stdout.splitlines()
