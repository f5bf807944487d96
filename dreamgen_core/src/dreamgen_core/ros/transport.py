"""The Fast DDS transport profile every ROS process of dreamgen runs with, and what the host must allow.

Two profiles beside this module: `fastdds_profile.xml` (shared memory for raw images, UDP on
loopback only) when discovery is LOCALHOST, `fastdds_profile_subnet.xml` (the same shared memory,
UDP on every interface) otherwise: the loopback-only profile on a robot that talks to a workstation
would cut it off. Every launcher (dreamgen-ros-env, NodeProcess and so dreamgen-stack, the launch
files) sets FASTRTPS_DEFAULT_PROFILES_FILE for the nodes it starts unless the user set it; users who
start their own nodes (a camera driver) set that one variable to the same file.

The profile asks the kernel for what it cannot enforce: socket buffers (capped at net.core.rmem_max
and wmem_max) and a shared-memory segment per participant in /dev/shm (64 MiB in a default Docker
container). `problems` says what falls short, with the command that fixes it.

Standard library only: the launch files import this in apt's system Python.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

PROFILE_VAR = "FASTRTPS_DEFAULT_PROFILES_FILE"
RANGE_VAR = "ROS_AUTOMATIC_DISCOVERY_RANGE"
LOCALHOST = "LOCALHOST"
LOOPBACK_PROFILE = Path(__file__).with_name("fastdds_profile.xml")
SUBNET_PROFILE = Path(__file__).with_name("fastdds_profile_subnet.xml")
# Participants that hold a camera's frames in shared memory at once: the driver's and the recorder's.
SHM_PARTICIPANTS = 2
_NS = {"dds": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
MIB = 2**20


def profile_for(env: Mapping[str, str]) -> Path:
    """dreamgen's profile for the discovery range `env` asks for (ROS's default range is SUBNET)."""
    return LOOPBACK_PROFILE if env.get(RANGE_VAR) == LOCALHOST else SUBNET_PROFILE


def transport_variables(env: Mapping[str, str]) -> dict[str, str]:
    """What a launcher sets for the nodes it starts: the profile, unless `env` names one already."""
    return {} if env.get(PROFILE_VAR) else {PROFILE_VAR: str(profile_for(env))}


def with_transport(env: Mapping[str, str]) -> dict[str, str]:
    return {**env, **transport_variables(env)}


@dataclass(frozen=True)
class Needs:
    """What a profile asks of the host (0: nothing)."""
    socket_buffer: int = 0   # bytes, the largest send or receive buffer of a UDP transport
    shm_segment: int = 0     # bytes, one participant's shared-memory segment


def needs(profile: Path) -> Needs:
    root = ElementTree.parse(profile).getroot()
    buffers = [int(e.text or 0) for tag in ("sendBufferSize", "receiveBufferSize")
               for e in root.iterfind(f".//dds:transport_descriptor/dds:{tag}", _NS)]
    segments = [int(e.text or 0) for e in root.iterfind(".//dds:transport_descriptor/dds:segment_size", _NS)]
    return Needs(max(buffers, default=0), max(segments, default=0))


@dataclass(frozen=True)
class Host:
    """What the host allows."""
    rmem_max: int
    wmem_max: int
    shm_free: int

    @classmethod
    def read(cls, proc: Path = Path("/proc/sys/net/core"), shm: Path = Path("/dev/shm")) -> Host:
        def sysctl(name: str) -> int:
            return int((proc / name).read_text())

        stat = os.statvfs(shm) if shm.is_dir() else None
        return cls(sysctl("rmem_max"), sysctl("wmem_max"), stat.f_bavail * stat.f_frsize if stat else 0)


@dataclass(frozen=True)
class Shortfall:
    """A host limit below what the profile needs, and the command that fixes it."""
    text: str
    # Loses camera frames on this host: without its shared-memory segment a raw image falls back to
    # UDP fragments (26.7 % arrived in the measurement). Small socket buffers cost bursts
    # over UDP only: discovery, the fallback, subscribers on other hosts.
    loses_frames: bool

    def __str__(self) -> str:
        return self.text


def problems(need: Needs, host: Host, profile: Path) -> list[Shortfall]:
    """One per limit of `host` below what `profile` needs, each with the command that fixes it."""
    found = []
    short = {name: value for name, value in (("rmem_max", host.rmem_max), ("wmem_max", host.wmem_max))
             if value < need.socket_buffer}
    if short:
        now = ", ".join(f"net.core.{k}={v}" for k, v in short.items())
        fix = " ".join(f"net.core.{k}={need.socket_buffer}" for k in short)
        found.append(Shortfall(f"socket buffers: {now} caps the {need.socket_buffer // MIB} MiB that {profile.name} "
                               f"asks for (bursts of large messages over UDP drop): sudo sysctl -w {fix} "
                               f"(persist it in /etc/sysctl.d/60-dreamgen.conf)", loses_frames=False))
    shm_need = SHM_PARTICIPANTS * need.shm_segment
    if host.shm_free < shm_need:
        found.append(Shortfall(f"shared memory: {host.shm_free // MIB} MiB free in /dev/shm, {profile.name} needs "
                               f"{shm_need // MIB} MiB ({need.shm_segment // MIB} MiB per camera publisher and "
                               f"recorder): in Docker run with --ipc=host (compose: `ipc: host`) or "
                               f"--shm-size=1g; on a host: sudo mount -o remount,size=1G /dev/shm", loses_frames=True))
    return found


def host_problems(env: Mapping[str, str]) -> list[Shortfall]:
    """`problems` for the profile `env` names (dreamgen's by the discovery range if none) on this host."""
    profile = Path(env.get(PROFILE_VAR) or profile_for(env))
    if not profile.is_file():
        return [Shortfall(f"{PROFILE_VAR}={profile}: no such file (every node started with it falls back to "
                          f"Fast DDS's defaults or fails)", loses_frames=True)]
    return problems(needs(profile), Host.read(), profile)
