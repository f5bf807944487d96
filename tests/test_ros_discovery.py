"""The network policy: loopback-only discovery on a private, per-session domain."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.ros.discovery import SESSION_DOMAINS, DomainClaim, localhost_env, problems
from dreamgen_core.ros.node_process import NodeProcess, ros_args
from dreamgen_core.ros.transport import LOOPBACK_PROFILE

VENV_BIN = Path(sys.executable).parent


def test_problems_name_each_unsafe_setting() -> None:
    assert problems({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": "42"}) == []
    found = problems({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"})
    assert len(found) == 2
    assert "ROS_AUTOMATIC_DISCOVERY_RANGE is 'SUBNET'" in found[0] and "ROS_DOMAIN_ID is 'unset'" in found[1]
    assert problems({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": "300"})


def test_localhost_env_drops_the_deprecated_humble_variable() -> None:
    env = localhost_env(42, {"ROS_LOCALHOST_ONLY": "1", "PATH": "/bin"})
    assert env == {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": "42", "PATH": "/bin",
                   "FASTRTPS_DEFAULT_PROFILES_FILE": str(LOOPBACK_PROFILE)}


def test_transport_profile_holds_a_raw_frame_in_shared_memory_and_stays_on_loopback() -> None:
    ns = {"dds": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    root = ElementTree.parse(LOOPBACK_PROFILE).getroot()
    transports = {t.findtext("dds:transport_id", namespaces=ns): t for t in root.iterfind(".//dds:transport_descriptor", ns)}
    kinds = {name: t.findtext("dds:type", namespaces=ns) for name, t in transports.items()}
    assert sorted(kinds.values()) == ["SHM", "UDPv4"]
    shm = next(t for t in transports.values() if t.findtext("dds:type", namespaces=ns) == "SHM")
    camera = load_embodiment("gr1").cameras["ego_view"]
    frame = camera.width * camera.height * 3
    assert int(shm.findtext("dds:segment_size", namespaces=ns)) >= 30 * frame  # a second of frames in flight
    udp = next(t for t in transports.values() if t.findtext("dds:type", namespaces=ns) == "UDPv4")
    assert [a.text for a in udp.iterfind(".//dds:address", ns)] == ["127.0.0.1"]
    participant = root.find(".//dds:participant", ns)
    assert participant.get("is_default_profile") == "true"
    assert participant.findtext(".//dds:useBuiltinTransports", namespaces=ns) == "false"
    assert sorted(t.text for t in participant.iterfind(".//dds:userTransports/dds:transport_id", ns)) == sorted(kinds)
    # A profile the user set on purpose wins.
    assert localhost_env(42, {"FASTRTPS_DEFAULT_PROFILES_FILE": "/mine.xml"})["FASTRTPS_DEFAULT_PROFILES_FILE"] == "/mine.xml"


def test_node_process_refuses_an_unsafe_environment() -> None:
    with pytest.raises(RuntimeError, match="refusing to start dreamgen/pose_publisher: ROS_AUTOMATIC_DISCOVERY"):
        NodeProcess("dreamgen", "pose_publisher", env={"ROS_DOMAIN_ID": "42", "AMENT_PREFIX_PATH": "/nowhere"})


def test_ros_args_format() -> None:
    assert ros_args({"embodiment": "gr1", "rate_hz": 100.0, "flag": True}) == [
        "--ros-args", "-p", "embodiment:=gr1", "-p", "rate_hz:=100.0", "-p", "flag:=true"]


def test_a_claimed_domain_is_exclusive_across_processes(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, pathlib
        from dreamgen_core.ros.discovery import DomainClaim
        claim = DomainClaim(pathlib.Path({str(tmp_path)!r}))
        print(claim.claim(), flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        held = int(holder.stdout.readline())
        claims = [DomainClaim(tmp_path) for _ in range(5)]
        mine = [c.claim() for c in claims]
        assert held not in mine and len(set(mine)) == 5
    finally:
        holder.stdin.close()
        holder.wait(10)
    for c in claims:
        c.release()
    # The kernel released the holder's lock when it exited: every domain can be claimed again,
    # and one claim more is refused with a message.
    everything = [DomainClaim(tmp_path) for _ in SESSION_DOMAINS]
    assert sorted(c.claim() for c in everything) == list(SESSION_DOMAINS)
    with pytest.raises(RuntimeError, match="all ROS domains 30..99 are claimed"):
        DomainClaim(tmp_path).claim()
    for c in everything:
        c.release()


def test_ros_env_wrapper_sets_the_policy_for_its_command() -> None:
    env = {"PATH": "/usr/bin:/bin", "ROS_LOCALHOST_ONLY": "1", "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}
    result = subprocess.run([str(VENV_BIN / "dreamgen-ros-env"), "--", "env"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    out = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert out["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert 30 <= int(out["ROS_DOMAIN_ID"]) < 100
    assert "ROS_LOCALHOST_ONLY" not in out
    # (this process may import dreamgen_core from ros2_ws's build copy: compare the files)
    assert Path(out["FASTRTPS_DEFAULT_PROFILES_FILE"]).read_bytes() == LOOPBACK_PROFILE.read_bytes()
    assert f"ROS_DOMAIN_ID={out['ROS_DOMAIN_ID']}" in result.stderr


def test_pytest_refuses_ros_tests_without_the_policy() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_DOMAIN_ID")}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(Path(__file__).with_name("test_ros_graph.py"))],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "refusing to run ROS tests: ROS_AUTOMATIC_DISCOVERY_RANGE is None" in result.stdout
    assert " errors in " in result.stdout and " passed" not in result.stdout  # every ROS test refused
