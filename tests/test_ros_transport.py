"""The Fast DDS transport profile: chosen by the discovery range, applied by every launcher (read back
from the environment of the started node's process), and the host limits it needs checked."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from dreamgen_core.ros.node_process import NodeProcess
from dreamgen_core.ros.stack_runner import StackRunner
from dreamgen_core.ros.transport import (
    LOOPBACK_PROFILE,
    MIB,
    PROFILE_VAR,
    SUBNET_PROFILE,
    Host,
    Needs,
    host_problems,
    needs,
    problems,
    profile_for,
    transport_variables,
)
from dreamgen_core.stack import PlannedNode

VENV_BIN = Path(sys.executable).parent
NS = {"dds": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}


def test_the_profile_follows_the_discovery_range_and_the_users_choice_wins() -> None:
    assert profile_for({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}) == LOOPBACK_PROFILE
    for other in ({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}, {}):  # unset: ROS's default range, SUBNET
        assert profile_for(other) == SUBNET_PROFILE
    assert transport_variables({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}) == {PROFILE_VAR: str(SUBNET_PROFILE)}
    assert transport_variables({PROFILE_VAR: "/mine.xml"}) == {}


def test_the_subnet_profile_reaches_other_hosts_with_the_same_shared_memory() -> None:
    def udp_addresses(path: Path) -> list[str | None]:
        root = ElementTree.parse(path).getroot()
        return [a.text for a in root.iterfind(".//dds:transport_descriptor/dds:interfaceWhiteList/dds:address", NS)]

    assert udp_addresses(LOOPBACK_PROFILE) == ["127.0.0.1"]
    assert udp_addresses(SUBNET_PROFILE) == []  # every interface: the robot still reaches the workstation
    assert needs(SUBNET_PROFILE) == needs(LOOPBACK_PROFILE) == Needs(8 * MIB, 128 * MIB)


def test_host_limits_below_the_profile_are_named_with_the_fix() -> None:
    need = needs(LOOPBACK_PROFILE)
    assert problems(need, Host(8 * MIB, 8 * MIB, 2**30), LOOPBACK_PROFILE) == []
    found = problems(need, Host(212992, 8 * MIB, 64 * MIB), LOOPBACK_PROFILE)
    assert [p.loses_frames for p in found] == [False, True]
    assert [str(p) for p in found] == [
        ("socket buffers: net.core.rmem_max=212992 caps the 8 MiB that fastdds_profile.xml asks for (bursts of "
        "large messages over UDP drop): sudo sysctl -w net.core.rmem_max=8388608 "
        "(persist it in /etc/sysctl.d/60-dreamgen.conf)"),
        ("shared memory: 64 MiB free in /dev/shm, fastdds_profile.xml needs 256 MiB (128 MiB per camera publisher "
        "and recorder): in Docker run with --ipc=host (compose: `ipc: host`) or --shm-size=1g; on a host: "
        "sudo mount -o remount,size=1G /dev/shm")]
    assert [str(p) for p in host_problems({PROFILE_VAR: "/nowhere/profile.xml"})] == [
        ("FASTRTPS_DEFAULT_PROFILES_FILE=/nowhere/profile.xml: no such file (every node started with it falls back "
        "to Fast DDS's defaults or fails)")]


def environ(pid: int, executable: str = "pose_publisher") -> dict[str, str]:
    """The environment a running node was started with, as the kernel keeps it: read once the process
    runs `executable` (before its exec it would show the launcher's own) and before it exits."""
    deadline = time.monotonic() + 20
    while executable not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
        assert time.monotonic() < deadline, f"pid {pid} never ran {executable}"
        time.sleep(0.01)
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    assert raw, f"pid {pid} exited before its environment could be read"
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def without_profile(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != PROFILE_VAR}


@pytest.mark.ros
def test_node_process_and_stack_runner_give_their_nodes_the_profile(ros_env: dict[str, str], tmp_path: Path) -> None:
    with NodeProcess("dreamgen", "pose_publisher", env=without_profile(ros_env)) as node:
        assert environ(node.pid)[PROFILE_VAR] == str(LOOPBACK_PROFILE)
    mine = tmp_path / "mine.xml"
    mine.write_bytes(LOOPBACK_PROFILE.read_bytes())
    with StackRunner([PlannedNode("dreamgen", "pose_publisher", "pose_publisher", {})], tmp_path / "log",
                     {**ros_env, PROFILE_VAR: str(mine)}) as runner:
        assert environ(runner.processes[0].pid)[PROFILE_VAR] == str(mine)  # the user's profile wins


@pytest.mark.ros
def test_dreamgen_stack_gives_its_nodes_the_profile(ros_env: dict[str, str], tmp_path: Path) -> None:
    stack = tmp_path / "probe.yaml"
    stack.write_text(yaml.safe_dump({"name": "probe", "description": "one node", "nodes": [
        {"executable": "pose_publisher"}]}))
    proc = subprocess.Popen([str(VENV_BIN / "dreamgen-stack"), str(stack), "--log-dir", str(tmp_path / "log")],
                            env=without_profile(ros_env), stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"pose_publisher \(pid (\d+)\)", line)
        assert match, line
        assert environ(int(match[1]))[PROFILE_VAR] == str(LOOPBACK_PROFILE)
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
