"""gr1_driver over real rclpy and Fast DDS, bridging to the sim's GRX stand-in over real Zenoh on loopback.

Processes: sim_robot serving the GRX protocol (`joint_interface: grx`, its encoders off by a test
offsets file), gr1_driver (Fourier's client, the same offsets), safety_monitor. The test plays the
teleop: targets go in on /teleop/joint_command, through the monitor and the bridge, and come back
as /joint_states by name in rad; then the stand-in is killed and restarted.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.ros.node_process import NodeProcess
from dreamgen_core.sim.robot import HOME

SPEC = load_embodiment("gr1")
ELBOW, INDEX = "left_elbow_pitch_joint", "L_index_proximal_joint"
OFFSETS = {ELBOW: 0.05, "waist_yaw_joint": -0.02}
pytestmark = [pytest.mark.ros, pytest.mark.timeout(180, method="thread")]


class Teleop:
    """The test's own rclpy node: listens to /joint_states and /diagnostics, publishes teleop targets."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("gr1_driver_test", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.states: list[tuple[float, JointState]] = []
        self.driver_status: list[DiagnosticStatus] = []
        self.monitor_status: list[DiagnosticStatus] = []
        self.commands: list[tuple[float, JointState]] = []  # what the safety monitor sends the robot
        self.node.create_subscription(JointState, SPEC.ros.robot_command.name,
                                      lambda m: self.commands.append((time.monotonic(), m)), 50)
        self.node.create_subscription(JointState, SPEC.ros.joint_states.name,
                                      lambda m: self.states.append((time.monotonic(), m)), 50)
        self.node.create_subscription(DiagnosticArray, SPEC.ros.diagnostics.name, self.on_diagnostics, 10)
        self.teleop = self.node.create_publisher(JointState, SPEC.ros.teleop_command.name, 10)

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        self.driver_status += [s for s in msg.status if s.name == "dreamgen/gr1_driver"]
        self.monitor_status += [s for s in msg.status if s.name == "dreamgen/safety_monitor"]

    def latest(self) -> dict[str, float]:
        return dict(zip(self.states[-1][1].name, self.states[-1][1].position)) if self.states else {}

    def spin(self, seconds: float, until: Callable[[], bool] = lambda: False,
             every: Callable[[], None] | None = None) -> bool:
        end, next_s = time.monotonic() + seconds, 0.0
        while time.monotonic() < end:
            if until():
                return True
            if every is not None and time.monotonic() >= next_s:
                every()
                next_s = time.monotonic() + 0.05
            self.executor.spin_once(timeout_sec=0.01)
        return until()

    def call_enable(self, on: bool) -> SetBool.Response:
        client = self.node.create_client(SetBool, "/gr1_driver/enable")
        assert client.wait_for_service(timeout_sec=20)
        future = client.call_async(SetBool.Request(data=on))
        self.executor.spin_until_future_complete(future, timeout_sec=10)
        assert future.done()
        return future.result()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def test_bridge_states_commands_lost_link_and_reconnect(ros_env: dict[str, str], tmp_path: Path) -> None:
    address = f"127.{os.getpid() % 200 + 20}.77.{os.getpid() % 250 + 1}"
    offsets = tmp_path / "gr1_joint_offsets.yaml"
    offsets.write_text(yaml.safe_dump({"embodiment": "gr1", "status": "measured", "method": "test",
                                       "offsets_rad": OFFSETS}))
    sim_params = {"joint_interface": "grx", "grx_address": address, "grx_offsets_file": str(offsets),
                  "camera_width": 64, "camera_height": 40}
    driver_params = {"server_ip": address, "offsets_file": str(offsets), "hands": "standin",
                     "stale_after_s": 0.2, "reconnect_after_s": 2.0}  # 0.2: the sim stalls on a loaded machine
    log = (tmp_path / "nodes.log").open("wb")
    sim = NodeProcess("dreamgen", "sim_robot", sim_params, env=ros_env, log=log).start()
    teleop = Teleop()
    try:
        with NodeProcess("dreamgen", "gr1_driver", driver_params, env=ros_env, log=log), \
                NodeProcess("dreamgen", "safety_monitor", env=ros_env, log=log):
            # States by name, rad, offsets undone: the sim holds its start pose.
            assert teleop.spin(60, until=lambda: len(teleop.latest()) == len(SPEC.joint_names)), \
                f"no full /joint_states; logs in {log.name}"
            state = teleop.latest()
            assert state[ELBOW] == pytest.approx(HOME[ELBOW], abs=0.01)
            assert state["waist_yaw_joint"] == pytest.approx(0.0, abs=0.01)
            assert state[INDEX] == pytest.approx(0.0, abs=0.01)
            assert teleop.call_enable(True).success

            # Teleop targets through the safety monitor and the bridge move exactly the named joints.
            # Like an operator, the teleop first picks the robot up where it stands (the sim engages).
            start = dict(state)
            target = dict(start)

            def send() -> None:
                teleop.teleop.publish(JointState(name=list(target), position=list(target.values())))

            teleop.spin(1.5, every=send)
            target.update({ELBOW: HOME[ELBOW] + 0.3, INDEX: -0.6})
            assert teleop.spin(30, every=send, until=lambda: abs(teleop.latest()[ELBOW] - target[ELBOW]) < 0.03
                               and abs(teleop.latest()[INDEX] - target[INDEX]) < 0.08), \
                f"the robot did not follow: {teleop.latest()[ELBOW]}, {teleop.latest()[INDEX]}; logs in {log.name}"
            # (the monitor keeps every joint its 0.05 rad margin inside the limits: open fingers close that much)
            moved = {n for n, v in teleop.latest().items() if abs(v - start[n]) > 0.08}
            body = set(SPEC.drivers["body"].joint_order)
            assert moved & body == {ELBOW}, moved  # a joint-order slip would move another body joint
            assert INDEX in moved and not any(n.startswith("R_") for n in moved), moved
            teleop.spin(1.5)
            assert teleop.driver_status and teleop.driver_status[-1].level == DiagnosticStatus.OK

            # The stand-in dies: joint states stop at once, the driver says so, the monitor holds its last
            # target whatever the teleop asks (a new elbow target now), and the driver reconnects.
            sim.process.kill()  # type: ignore[union-attr]
            killed, killed_mono = time.time(), time.monotonic()  # the driver stamps joint states with its system clock
            sim.wait(10)
            target[ELBOW] = HOME[ELBOW] + 0.9  # farther than the monitor lets it move before the stale limit
            teleop.spin(2.5, every=send)
            # Until the stale limit the monitor still passes (delta-limited) commands; after it, one pose only.
            late = [dict(zip(m.name, m.position))[ELBOW] for t, m in teleop.commands if t > killed_mono + 1.0]
            assert late and all(e == late[0] for e in late) and abs(late[0] - target[ELBOW]) > 0.1, \
                (late[:3], late[-3:], target[ELBOW])
            assert teleop.monitor_status[-1].message == "holding (stale_joint_states)", teleop.monitor_status[-1]
            stamp = teleop.states[-1][1].header.stamp
            last = stamp.sec + stamp.nanosec * 1e-9
            assert last - killed < SPEC.safety.source_timeout_s, f"joint states went on {last - killed:.2f} s"
            lost = [s for s in teleop.driver_status if s.level == DiagnosticStatus.ERROR]
            assert lost and lost[-1].message.startswith("link lost"), [s.message for s in teleop.driver_status]
            assert "link lost" in Path(log.name).read_text(errors="replace")

            sim = NodeProcess("dreamgen", "sim_robot", sim_params, env=ros_env, log=log).start()
            count = len(teleop.states)
            assert teleop.spin(60, until=lambda: len(teleop.states) > count + 50), f"no reconnect; logs in {log.name}"
            assert teleop.spin(5, until=lambda: teleop.driver_status[-1].level == DiagnosticStatus.OK)
            # Joint states are back: the monitor passes the teleop's new target again. (The restarted sim
            # stands at its start pose and waits for a command that agrees with it before it follows.)
            def released() -> bool:
                last = dict(zip(teleop.commands[-1][1].name, teleop.commands[-1][1].position))
                return teleop.monitor_status[-1].message == "passing" and abs(last[ELBOW] - target[ELBOW]) < 1e-6
            assert teleop.spin(30, every=send, until=released), \
                f"the monitor did not release its hold: {teleop.monitor_status[-1].message}; logs in {log.name}"
    finally:
        teleop.close()
        sim.stop()
        log.close()
    assert subprocess.run(["grep", "-c", "Traceback", log.name], capture_output=True, text=True).stdout.strip() == "0"
