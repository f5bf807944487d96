"""Deploy control loop: p99 jitter of the policy node's and the safety monitor's loops, and the
observation-to-command latency, per policy runtime, through the real nodes.

For each runtime (torch, onnxruntime) the script starts safety_monitor (policy source) and
policy_node (that runtime) as their own processes, plays the robot in-process (joint states at
100 Hz that follow /gr1/joint_command, a 320x200 camera at 30 Hz), enables the monitor and records
for `--seconds`:
- loop jitter: |interval - control period| between consecutive messages as received on
  /policy/joint_command (the policy node's loop) and /gr1/joint_command (the monitor's), p50/p99;
- observation-to-command latency: for every chunk, the receipt of its first command minus the
  capture stamp of the observation it was computed from (the command's header stamp), p50/p99.
The policy is `policy_runtime.py`'s untrained PolicyNet (latency does not depend on the weights).
Receipt times include DDS delivery to this process. The load average is printed: on a shared
machine the numbers move with it.

    source ros2_ws/install/setup.bash && .venv/bin/dreamgen-ros-env -- .venv/bin/python benchmarks/deploy_loop.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
from policy_runtime import exported_policy
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_srvs.srv import SetBool

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.ros.node_process import NodeProcess

SPEC = load_embodiment("gr1")
PERIOD = 1 / SPEC.rates.control_hz


class Robot:
    def __init__(self) -> None:
        self.node = rclpy.create_node("deploy_loop_bench")
        self.pose = {n: (SPEC.joints[n].lower + SPEC.joints[n].upper) / 2 for n in SPEC.joint_names}
        cam = next(iter(SPEC.cameras.values()))
        self.states = self.node.create_publisher(JointState, SPEC.ros.joint_states.name, 10)
        self.image = self.node.create_publisher(Image, cam.topic, 2)
        self.info = self.node.create_publisher(CameraInfo, cam.info_topic, 2)
        self.policy: list[tuple[float, float]] = []  # (receipt, header stamp)
        self.robot: list[float] = []
        self.node.create_subscription(JointState, SPEC.ros.policy_command.name, self.on_policy, 10)
        self.node.create_subscription(JointState, SPEC.ros.robot_command.name, self.on_robot, 10)
        self.frame = np.random.default_rng(0).integers(0, 255, (200, 320, 3), dtype=np.uint8).tobytes()
        self.node.create_timer(0.01, self.publish_state)
        self.node.create_timer(1 / 30, self.publish_image)

    def on_policy(self, msg: JointState) -> None:
        self.policy.append((time.time(), msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9))

    def on_robot(self, msg: JointState) -> None:
        self.robot.append(time.time())
        self.pose.update(zip(msg.name, msg.position))

    def publish_state(self) -> None:
        msg = JointState(name=list(self.pose), position=list(self.pose.values()))
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.states.publish(msg)

    def publish_image(self) -> None:
        msg = Image(height=200, width=320, encoding="rgb8", step=960, data=self.frame)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.image.publish(msg)
        self.info.publish(CameraInfo(width=320, height=200))


def jitter_ms(times: list[float]) -> tuple[float, float]:
    gaps = np.abs(np.diff(times) - PERIOD) * 1e3
    return float(np.percentile(gaps, 50)), float(np.percentile(gaps, 99))


def latency_ms(policy: list[tuple[float, float]]) -> tuple[float, float, int]:
    first: dict[float, float] = {}
    for receipt, stamp in policy:
        first.setdefault(stamp, receipt)
    lat = np.array([r - s for s, r in first.items()]) * 1e3
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), len(lat)


def measure(policy: Path, runtime: str, seconds: float, logs: Path) -> str:
    rclpy.init()
    robot = Robot()
    executor = SingleThreadedExecutor()
    executor.add_node(robot.node)
    processes = []
    try:
        for exe, params in (("safety_monitor", {"source": "policy"}),
                            ("policy_node", {"policy": str(policy), "runtime": runtime, "instruction": "bench"})):
            log = open(logs / f"{exe}_{runtime}.log", "wb")  # noqa: SIM115 - closed with the process below
            processes.append((NodeProcess("dreamgen", exe, {"embodiment": "gr1", **params}, log=log).start(), log))
        client = robot.node.create_client(SetBool, "/safety_monitor/enable")
        end = time.monotonic() + 60
        while not (client.service_is_ready() and robot.policy) and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        future = client.call_async(SetBool.Request(data=True))
        while not future.done():
            executor.spin_once(timeout_sec=0.05)
        robot.policy.clear()
        robot.robot.clear()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.01)
    finally:
        for process, log in processes:
            process.stop()
            log.close()
        robot.node.destroy_node()
        rclpy.shutdown()
    p50, p99 = jitter_ms([r for r, _ in robot.policy])
    m50, m99 = jitter_ms(robot.robot)
    l50, l99, chunks = latency_ms(robot.policy)
    return (f"{runtime:<12} policy loop jitter p50 {p50:6.2f} ms p99 {p99:6.2f} ms | monitor loop jitter p50 {m50:6.2f} ms "
            f"p99 {m99:6.2f} ms | observation->command p50 {l50:7.1f} ms p99 {l99:7.1f} ms ({chunks} chunks, "
            f"{len(robot.policy)} commands)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runtimes", default="torch,onnxruntime")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        policy = exported_policy(Path(scratch), 64, 256)
        rows = [measure(policy, runtime, args.seconds, Path(scratch)) for runtime in args.runtimes.split(",")]
    print(f"control period {PERIOD * 1e3:.0f} ms; {args.seconds:g} s per runtime; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
