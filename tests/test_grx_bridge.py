"""The GR1 bridge over real Zenoh on loopback: Fourier's real client library against the sim stand-in.

`Gr1GrxDriver` (through `fourier_grx_client.RobotClient`) talks to a `GrxServer` served from the
MuJoCo GR1 (`GrxStandIn`), both in this process but on their own Zenoh sessions over TCP. Each test
takes its own 127.0.0.x address (the client's port 7447 is fixed), scouting is off on both sides.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dreamgen_core.calibration.robot import JointOffsets, load_joint_offsets
from dreamgen_core.drivers.driver import JointReading, Link
from dreamgen_core.drivers.gr1_grx import Gr1GrxDriver, GrxSettings
from dreamgen_core.drivers.grx_server import GrxServer
from dreamgen_core.drivers.grx_standin import GrxStandIn, serve
from dreamgen_core.drivers.zenoh_config import loopback_problems
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.sim.robot import HOME, SimRobot

# A wedged Zenoh session holds the GIL, so the timeout must come from a thread (not SIGALRM).
pytestmark = pytest.mark.timeout(90, method="thread")
SPEC = load_embodiment("gr1")
ORDER = SPEC.drivers["body"].joint_order
OFFSETS = JointOffsets("gr1", "measured", "test", {"left_elbow_pitch_joint": 0.05, "waist_yaw_joint": -0.02,
                                                   "right_shoulder_roll_joint": -0.03})
_hosts = itertools.count(1)


def loopback_address() -> str:
    """A 127.0.0.0/8 address of this test alone (pid and a counter), so stand-ins never share a port."""
    n = os.getpid() % 200 + 20
    return f"127.{n}.{next(_hosts)}.{os.getpid() % 250 + 1}"


def open_server(address: str, seconds: float = 5.0) -> GrxServer:
    """A stand-in server; a previous one at `address` in this process frees its listener asynchronously."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return GrxServer(address)
        except Exception as exc:  # zenoh's ZError, which the package does not export
            if "Address already in use" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass
class Bench:
    address: str
    sim: SimRobot
    standin: GrxStandIn
    driver: Gr1GrxDriver
    log: list[str]
    stop: threading.Event

    def start_standin(self) -> None:
        self.standin = GrxStandIn(self.sim, open_server(self.address), OFFSETS)
        self.stop = threading.Event()
        threading.Thread(target=serve, args=(self.standin, 200.0, self.stop), daemon=True).start()

    def stop_standin(self) -> None:
        self.stop.set()
        time.sleep(0.05)
        self.standin.server.close()

    def readings(self, seconds: float, until: Callable[[JointReading], bool] = lambda r: False) -> list[JointReading]:
        out: list[JointReading] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            reading = self.driver.poll(time.monotonic())
            if reading is not None:
                out.append(reading)
                if until(reading):
                    break
            time.sleep(0.002)
        return out


@pytest.fixture
def bench() -> Iterator[Bench]:
    address = loopback_address()
    sim = SimRobot(SPEC)
    log: list[str] = []
    bench = Bench(address, sim, None, None, log, threading.Event())  # type: ignore[arg-type]
    bench.start_standin()
    bench.driver = Gr1GrxDriver(SPEC, OFFSETS, GrxSettings(server_ip=address, hands="standin", retry_s=0.3,
                                                           reconnect_after_s=2.0), log=log.append)
    bench.driver.start()
    yield bench
    # Quiet first: zenoh-python 0.11 can hang dropping a subscriber while samples arrive for it.
    bench.stop.set()
    time.sleep(0.1)
    bench.driver.close()
    bench.stop_standin()


def first_reading(bench: Bench, seconds: float = 15.0) -> JointReading:
    """The first reading with every joint: the body's, and the hands' once their first sample is in."""
    readings = bench.readings(seconds, until=lambda r: len(r.positions) == len(SPEC.joint_names))
    assert readings, f"no joint state from the stand-in at {bench.address}; driver log: {bench.log}"
    return readings[-1]


def listening_addresses() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Addresses this process's own TCP sockets listen on (/proc: the tables list the whole network
    namespace, so keep the rows whose inode is one of our file descriptors)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # closed since listed (the listing's own descriptor, for one)
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:["):-1])
    found = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # st 0A = LISTEN
                raw = bytes.fromhex(fields[1].split(":")[0])
                # each 32-bit word is printed in host (little-endian) byte order
                found.append(ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))))
    return found


def test_both_sides_are_configured_for_loopback_only(bench: Bench) -> None:
    first_reading(bench)
    client = bench.driver._require_client()
    assert loopback_problems(bench.standin.server.session.config()) == []
    assert loopback_problems(client.session.config()) == []
    listening = listening_addresses()
    assert ipaddress.ip_address(bench.address) in listening, listening  # the stand-in's
    assert len(listening) >= 2 and all(a.is_loopback for a in listening), listening  # and the client's


def test_states_by_name_in_radians_commands_in_driver_order_and_degrees(bench: Bench) -> None:
    reading = first_reading(bench)
    truth = dict(zip(SPEC.joint_names, bench.sim.positions()))
    for name in ("left_elbow_pitch_joint", "waist_yaw_joint", "right_shoulder_roll_joint", "left_knee_pitch_joint"):
        assert reading.positions[name] == pytest.approx(truth[name], abs=0.02), name  # offsets undone
    assert set(reading.positions) == set(SPEC.joint_names)  # body from the client, hands from their adapter

    targets = dict(reading.positions)
    targets["left_elbow_pitch_joint"] = -1.0
    targets["L_index_proximal_joint"] = -0.8
    targets["R_thumb_proximal_pitch_joint"] = 5.0  # beyond the joint: clipped to the SDK's range
    bench.driver.command(targets)
    deadline = time.monotonic() + 5
    while bench.standin.server.take().targets_received == 0 or len(bench.standin.server.take().hand_commands) < 2:
        assert time.monotonic() < deadline, "the stand-in received no command"
        bench.readings(0.05)
    state = bench.standin.server.take()
    assert state.target_deg is not None
    assert state.target_deg[ORDER.index("left_elbow_pitch_joint")] == pytest.approx(math.degrees(-1.0 - 0.05))
    assert state.target_deg[ORDER.index("waist_yaw_joint")] == pytest.approx(math.degrees(targets["waist_yaw_joint"] + 0.02))
    left, right = state.hand_commands["left"], state.hand_commands["right"]
    assert left[3] == pytest.approx(0.8 / 1.592) and all(0.0 <= v <= 1.0 for v in left + right)
    assert right[4] == 1.0

    # The sim follows: the elbow and the index finger move towards their targets, seen through the bridge.
    moved = bench.readings(5.0, until=lambda r: abs(r.positions["left_elbow_pitch_joint"] + 1.0) < 0.05
                           and r.positions["L_index_proximal_joint"] < -0.6)
    assert moved and abs(moved[-1].positions["left_elbow_pitch_joint"] + 1.0) < 0.05, moved[-1].positions if moved else None
    assert moved[-1].positions["L_index_proximal_joint"] < -0.6


def test_enable_and_gains_reach_the_server(bench: Bench) -> None:
    first_reading(bench)
    bench.driver.set_enable(True)
    assert bench.standin.server.take().enabled
    bench.driver.set_enable(False)
    assert not bench.standin.server.take().enabled
    kp = {n: 100.0 + i for i, n in enumerate(ORDER)}
    kd = {n: 1.0 for n in ORDER}
    bench.driver.set_gains(kp, kd)
    gains = bench.standin.server.take().gains
    assert gains is not None and gains["kp"] == [100.0 + i for i in range(32)] and gains["kd"] == [1.0] * 32


def test_lost_server_stops_states_drops_commands_and_reconnects(bench: Bench) -> None:
    first_reading(bench)
    bench.stop_standin()
    stopped = time.monotonic()
    bench.readings(0.3)
    assert bench.driver.link is Link.LOST
    assert not bench.readings(0.5), "joint states went on after the server stopped"
    assert any("link lost" in line for line in bench.log)
    assert bench.driver.status()["link"] == "lost" and float(bench.driver.status()["state_age_s"]) >= 0.5
    bench.driver.command({n: 0.0 for n in SPEC.joint_names})
    assert bench.driver.status()["commands_dropped"] == "1"
    assert time.monotonic() - stopped < 5

    bench.start_standin()
    back = first_reading(bench, seconds=20.0)
    assert bench.driver.link is Link.UP
    elbow = bench.sim.positions()[SPEC.slot("left_elbow_pitch_joint")]
    assert back.positions["left_elbow_pitch_joint"] == pytest.approx(elbow, abs=0.02)
    assert bench.standin.server.take().targets_received == 0  # the dropped command never reached it


def test_calibrate_joints_recovers_the_stand_ins_offsets(bench: Bench, tmp_path: Path) -> None:
    """`dreamgen calibrate joints` at the sim's start pose: offset = pose − reading, hands kept, file atomic."""
    first_reading(bench)
    pose = tmp_path / "pose.yaml"
    pose.write_text(yaml.safe_dump(dict(HOME)))
    out = tmp_path / "gr1_joint_offsets.yaml"
    out.write_text(yaml.safe_dump({"embodiment": "gr1", "status": "measured", "method": "hands by hand",
                                   "offsets_rad": {"L_index_proximal_joint": 0.07}}))
    done = subprocess.run([str(Path(sys.executable).parent / "dreamgen"), "calibrate", "joints", "--server-ip",
                           bench.address, "--pose", str(pose), "--samples", "50", "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    written = load_joint_offsets(out, SPEC)
    assert written.status == "measured" and f"from {bench.address}" in written.method
    for name in ORDER:
        assert written.offset(name) == pytest.approx(OFFSETS.offset(name), abs=0.01), name
    assert written.offset("L_index_proximal_joint") == 0.07

    bad = tmp_path / "bad_pose.yaml"
    bad.write_text("left_elbow_joint: 0.1\n")
    refused = subprocess.run([str(Path(sys.executable).parent / "dreamgen"), "calibrate", "joints", "--server-ip",
                              bench.address, "--pose", str(bad), "--out", str(out)], capture_output=True, text=True)
    assert refused.returncode == 2 and "bad_pose.yaml: left_elbow_joint" in refused.stderr
    assert load_joint_offsets(out, SPEC) == written  # nothing lost
