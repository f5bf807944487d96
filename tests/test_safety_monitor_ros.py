"""safety_monitor in its own process over Fast DDS: teleop in, enveloped commands out, holds on silence.

The test process plays robot and operator with rclpy: it publishes /joint_states (a robot that
reaches every command exactly), sends teleop targets, and listens on the robot command topic and
/diagnostics, as the real driver and teleop would.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import rclpy
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from dreamgen_core.embodiment import Embodiment, load_embodiment, resolve
from dreamgen_core.ros.node_process import NodeProcess

SPEC = load_embodiment("gr1")
TIMEOUT_S = SPEC.safety.source_timeout_s
ELBOW = "left_elbow_pitch_joint"


class Robot:
    """Joint states that follow the safe commands, a teleop publisher and listeners, in-process."""

    def __init__(self, spec: Embodiment, pose: dict[str, float]) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("safety_test", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.pose = dict(pose)
        self.commands: list[tuple[float, JointState]] = []  # (receive time, message)
        self.diagnostics: list[dict[str, str]] = []
        self.states = self.node.create_publisher(JointState, spec.ros.joint_states.name, 10)
        self.teleop = self.node.create_publisher(JointState, spec.ros.teleop_command.name, 10)
        self.clock = self.node.create_publisher(Clock, spec.ros.clock.name, 10)
        self.node.create_subscription(JointState, spec.ros.robot_command.name, self.on_command, 10)
        self.node.create_subscription(DiagnosticArray, spec.ros.diagnostics.name, self.on_diagnostics, 10)

    def on_command(self, msg: JointState) -> None:
        self.commands.append((time.monotonic(), msg))
        self.pose.update(zip(msg.name, msg.position))

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        self.diagnostics += [{kv.key: kv.value for kv in s.values} for s in msg.status
                             if s.name == "dreamgen/safety_monitor"]

    def publish_state(self) -> None:
        self.states.publish(JointState(name=list(self.pose), position=list(self.pose.values())))

    def run(self, seconds: float, every: Callable[[], None] | None = None, until: Callable[[], bool] = lambda: False,
            period_s: float = 0.02) -> None:
        """Spin for `seconds` (or until `until()`), publishing joint states and calling `every` each period."""
        end, next_s = time.monotonic() + seconds, 0.0
        while time.monotonic() < end and not until():
            if time.monotonic() >= next_s:
                self.publish_state()
                if every is not None:
                    every()
                next_s = time.monotonic() + period_s
            self.executor.spin_once(timeout_sec=0.005)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def mid_pose() -> dict[str, float]:
    return {name: (j.lower + j.upper) / 2 for name, j in SPEC.joints.items()}


@pytest.fixture
def robot() -> Iterator[Robot]:
    r = Robot(SPEC, mid_pose())
    yield r
    r.close()


@contextmanager
def safety_monitor(ros_env: dict[str, str], tmp_path: Path, **parameters: object) -> Iterator[Path]:
    """Run the node for the block; yields its log path; it must exit cleanly when stopped."""
    log = tmp_path / "safety_monitor.log"
    params = {"embodiment": "gr1", **parameters}
    with open(log, "wb") as out:
        node = NodeProcess("dreamgen", "safety_monitor", params, env=ros_env, log=out).start()
        try:
            yield log
        finally:
            code = node.stop()
    assert code == 0, log.read_text()


def positions(msg: JointState) -> dict[str, float]:
    return dict(zip(msg.name, msg.position))


@pytest.mark.ros
def test_out_of_limit_teleop_arrives_clamped_and_silence_holds(ros_env: dict[str, str], tmp_path: Path,
                                                              robot: Robot) -> None:
    with safety_monitor(ros_env, tmp_path) as log:
        # Before any teleop the monitor already owns the robot: it holds the measured pose.
        robot.run(20.0, until=lambda: len(robot.commands) >= 3)
        assert len(robot.commands) >= 3, log.read_text()
        first = positions(robot.commands[0][1])
        assert list(first) == list(SPEC.joint_names)
        assert first[ELBOW] == pytest.approx(mid_pose()[ELBOW])

        target = {ELBOW: 5.0, "not_a_joint": 1.0}  # far beyond the elbow's 2.27 rad limit
        teleop = JointState(name=list(target), position=list(target.values()))
        robot.run(1.5, every=lambda: robot.teleop.publish(teleop), period_s=1 / SPEC.rates.control_hz)
        stop_s = time.monotonic()
        limit = SPEC.joints[ELBOW].upper - SPEC.margin(ELBOW)
        elbows = [positions(m)[ELBOW] for _, m in robot.commands]
        assert max(elbows) == pytest.approx(limit)  # reached the limit minus margin, never beyond
        assert elbows[-1] == pytest.approx(limit)
        steps = [b - a for a, b in itertools.pairwise(elbows)]
        reach = SPEC.joints[ELBOW].velocity * SPEC.safety.velocity_scale * TIMEOUT_S
        assert max(steps) <= reach + 1e-9  # never a jump, even on a late message

        # Teleop goes silent: holds at the measured pose, repeated at the control rate.
        robot.run(1.5)
        holds = [m for t, m in robot.commands if t > stop_s + TIMEOUT_S + 0.1]
        assert len(holds) >= 10, log.read_text()
        assert all(positions(m) == pytest.approx(robot.pose) for m in holds)
        assert positions(holds[-1])[ELBOW] == pytest.approx(limit)

        # The 1 Hz report may fall 0.5 s into the silence (9 holds): wait for one that has seen 10.
        robot.run(3.0, until=lambda: any(d["state"].startswith("holding") and int(d["clamps"]) > 0
                                         and int(d["holds_sent"]) >= 10 for d in robot.diagnostics))
        assert robot.diagnostics, log.read_text()
        report = robot.diagnostics[-1]
        assert report["state"] == "holding (source_silent)"
        assert int(report["events.position_limit"]) > 0 and int(report["events.velocity_limit"]) > 0
        assert int(report["events.unknown_joint"]) > 0 and int(report["holds_sent"]) >= 10


@pytest.mark.ros
def test_holds_follow_sim_time(ros_env: dict[str, str], tmp_path: Path, robot: Robot) -> None:
    """Under use_sim_time the watchdog and the hold rate run on /clock: a paused sim gets no holds."""
    sim_s = [1000.0]

    def advance() -> None:
        sim_s[0] += 0.02
        sec = int(sim_s[0])
        robot.clock.publish(Clock(clock=Time(sec=sec, nanosec=int((sim_s[0] - sec) * 1e9))))

    with safety_monitor(ros_env, tmp_path, use_sim_time=True) as log:
        robot.run(20.0, every=advance, until=lambda: len(robot.commands) >= 5)
        assert len(robot.commands) >= 5, log.read_text()
        stamp = robot.commands[-1][1].header.stamp
        assert 1000.0 <= stamp.sec + stamp.nanosec * 1e-9 <= sim_s[0]
        robot.run(0.3)  # /clock paused: sim time stands still, so no hold is due
        paused = len(robot.commands)
        robot.run(1.0)
        assert len(robot.commands) == paused
        robot.run(1.0, every=advance)  # 1 s of sim time at 20 Hz
        assert len(robot.commands) - paused >= 5


@pytest.mark.ros
def test_the_source_timeout_comes_from_the_spec(ros_env: dict[str, str], tmp_path: Path, robot: Robot) -> None:
    """A spec with a longer source timeout: no hold before it has passed, holds soon after."""
    raw = yaml.safe_load(resolve("gr1").read_text())
    raw["safety"]["source_timeout_s"] = timeout_s = 0.8
    spec_path = tmp_path / "gr1_slow_timeout.yaml"
    spec_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with safety_monitor(ros_env, tmp_path, embodiment=str(spec_path)) as log:
        robot.run(20.0, until=lambda: len(robot.commands) >= 3)  # holds of the measured pose: it is up
        assert len(robot.commands) >= 3, log.read_text()
        teleop = JointState(name=[ELBOW], position=[mid_pose()[ELBOW]])
        robot.run(1.0, every=lambda: robot.teleop.publish(teleop), period_s=1 / SPEC.rates.control_hz)
        stop_s = time.monotonic()
        robot.run(timeout_s + 1.0)
    late = [t - stop_s for t, _ in robot.commands if t > stop_s + 0.3]  # past any in-flight answers
    assert late, log.read_text()
    assert timeout_s - 0.05 <= late[0] <= timeout_s + 0.5, late[:3]  # the gr1.yaml default would hold at 0.25 s


@pytest.mark.ros
def test_driver_rate_interpolates_between_enveloped_commands(ros_env: dict[str, str], tmp_path: Path,
                                                            robot: Robot) -> None:
    """driver_rate_hz 100: between the 20 Hz teleop commands the robot gets interpolated targets, each
    step within the joint's velocity bound over its own interval, moving steadily toward the target."""
    with safety_monitor(ros_env, tmp_path, driver_rate_hz=100.0) as log:
        robot.run(20.0, until=lambda: len(robot.commands) >= 3)
        assert len(robot.commands) >= 3, log.read_text()
        start = len(robot.commands)
        teleop = JointState(name=[ELBOW], position=[mid_pose()[ELBOW] + 1.0])
        robot.run(1.0, every=lambda: robot.teleop.publish(teleop), period_s=1 / SPEC.rates.control_hz)
    sent = robot.commands[start:]
    assert len(sent) >= 50, len(sent)  # ~100 Hz, not 20
    # Integer nanoseconds: an epoch time as a float carries only ~0.2 us, enough to break the bound
    # by 1e-6 rad at the elbow's 2.6 rad/s (seen once in a fresh-clone run).
    stamps_ns = [m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec for _, m in sent]
    stamps = [(ns - stamps_ns[0]) * 1e-9 for ns in stamps_ns]
    elbows = [positions(m)[ELBOW] for _, m in sent]
    vmax = SPEC.joints[ELBOW].velocity * SPEC.safety.velocity_scale
    for (t0, a), (t1, b) in itertools.pairwise(zip(stamps, elbows)):
        assert -1e-9 <= b - a <= vmax * (t1 - t0) + 1e-6, (a, b, t1 - t0)
    assert elbows[-1] > elbows[0] + 0.5
