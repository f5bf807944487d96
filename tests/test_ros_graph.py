"""Two ROS 2 processes started by dreamgen's tooling exchange GR1 joint states over Fast DDS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.ros.discovery import DomainClaim, localhost_env
from dreamgen_core.ros.node_process import NodeProcess


def proc_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def run_check(env: dict[str, str], tmp_path: Path, publisher_env: dict[str, str], seconds: float = 2.0):
    """pose_publisher on `publisher_env`, joint_state_check on `env`; returns (code, report, envs, log)."""
    report = tmp_path / "report.json"
    log_path = tmp_path / "nodes.log"
    with open(log_path, "wb") as log:
        with NodeProcess("dreamgen", "pose_publisher", {"embodiment": "gr1"}, env=publisher_env, log=log) as pub:
            check = NodeProcess("dreamgen", "joint_state_check",
                                {"embodiment": "gr1", "duration_s": seconds, "report": str(report)},
                                env=env, log=log).start()
            envs = [proc_environ(pub.pid), proc_environ(check.pid)]
            code = check.wait(timeout=seconds + 30)
    return code, json.loads(report.read_text()), envs, log_path.read_text()


@pytest.mark.ros
def test_joint_states_by_name_between_two_processes(ros_env: dict[str, str], tmp_path: Path) -> None:
    spec = load_embodiment("gr1")
    code, report, envs, log = run_check(ros_env, tmp_path, ros_env)
    assert code == 0, log
    assert report["ok"], report["problems"]
    assert report["messages"] > 50
    assert report["missing"] == [] and report["unknown"] == []
    assert report["joint_names"] == list(spec.joint_names)
    # The publisher sends the URDF order; the receiver placed each value into its layout slot by name.
    expected = [(spec.joints[n].lower + spec.joints[n].upper) / 2 for n in spec.joint_names]
    assert report["last_vector"] == pytest.approx(expected)
    for env in (*envs, report["node_env"]):
        assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
        assert env["ROS_DOMAIN_ID"] == ros_env["ROS_DOMAIN_ID"]
        assert not env.get("ROS_LOCALHOST_ONLY")


@pytest.mark.ros
def test_another_domain_hears_nothing(ros_env: dict[str, str], tmp_path: Path) -> None:
    with DomainClaim() as other:
        assert str(other) != ros_env["ROS_DOMAIN_ID"]
        code, report, envs, log = run_check(localhost_env(other, ros_env), tmp_path, ros_env, seconds=1.5)
    assert code == 1, log
    assert report["messages"] == 0
    assert report["problems"][0] == "no joint states received"
    assert envs[1]["ROS_DOMAIN_ID"] == str(other)
