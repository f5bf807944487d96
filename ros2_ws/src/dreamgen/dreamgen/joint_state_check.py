"""Check a live joint-state stream against the embodiment spec (names, coverage, rate).

Runs until stopped and reports on /diagnostics at 1 Hz, or with `duration_s > 0` judges that long
a window that opens at the first message (discovery takes seconds on a loaded machine; a window
that opened at start would judge a healthy stream by its missing first second), waiting up to
`discovery_timeout_s` for it; then writes a JSON report (`report` path, atomically) and exits 0 if
the stream is healthy, 1 if not: usable as a bring-up gate on the robot and in scripts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.timer import Timer
from sensor_msgs.msg import JointState

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.joint_check import JointStateCheck


class JointStateCheckNode(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("joint_state_check")
        # Dynamically typed: `-p duration_s:=5` (an integer on the command line) is as good as 5.0.
        self.duration_s = float(self.declare_parameter("duration_s", 0.0, ParameterDescriptor(dynamic_typing=True)).value)
        self.report_path = str(self.declare_parameter("report", "").value)
        self.check = JointStateCheck(self.spec)
        self.create_subscription(JointState, self.spec.ros.joint_states.name, self.on_joint_state, 50)
        self.diagnostics = self.create_publisher(DiagnosticArray, self.spec.ros.diagnostics.name, 10)
        self.create_timer(1.0, self.publish_diagnostics)
        discovery_s = float(self.declare_parameter("discovery_timeout_s", 10.0,
                                                   ParameterDescriptor(dynamic_typing=True)).value)
        self.started = time.monotonic()
        self.window: Timer | None = None
        self.waiting = self.create_timer(discovery_s, self.conclude) if self.duration_s > 0 else None

    def on_joint_state(self, msg: JointState) -> None:
        if self.waiting is not None and self.window is None:  # the first message opens the window
            self.destroy_timer(self.waiting)
            self.window = self.create_timer(self.duration_s, self.conclude)
        self.check.observe(msg.name, msg.position, time.monotonic())

    def publish_diagnostics(self) -> None:
        problems = self.check.problems()
        status = DiagnosticStatus(
            level=DiagnosticStatus.OK if not problems else DiagnosticStatus.WARN,
            name="dreamgen/joint_state_check", hardware_id=self.spec.name,
            message="ok" if not problems else "; ".join(problems))
        values = {"rate_hz": f"{self.check.rate_hz:.1f}", "messages": str(self.check.messages), **self.discovery}
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(msg)

    def conclude(self) -> None:
        report = {**self.check.report(), "node_env": self.discovery}
        text = json.dumps(report, indent=2)
        if self.report_path:
            write_text_atomic(Path(self.report_path), text + "\n")
        verdict = "ok" if report["ok"] else "FAILED: " + "; ".join(report["problems"])
        self.get_logger().info(f"{report['messages']} messages at {report['rate_hz']} Hz: {verdict}")
        self.finish(0 if report["ok"] else 1)


main = main_for(JointStateCheckNode)
