"""The only publisher of robot commands: teleop/policy targets in, enveloped targets out.

A thin node over `dreamgen_core.safety.SafetyMonitor`: it turns JointState messages into commands
by name, publishes every verdict as a full JointState on the spec's robot command topic, ticks the
source watchdog at the control rate (holds while the source is silent) and reports counts and
state on /diagnostics at 1 Hz. Time is the node clock, so it follows /clock under use_sim_time.
Once joint states arrive it holds the measured pose until the source speaks: from its first
message on, the robot is never without a fresh, enveloped target.
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen_core.safety import SafetyMonitor, Verdict
from dreamgen_core.safety.monitor import CLAMP_KINDS, PASSING

COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class SafetyMonitorNode(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("safety_monitor")
        ros = self.spec.ros
        self.source_topic = str(self.declare_parameter("source_topic", ros.teleop_command.name).value)
        # The timeout is the spec's, never a parameter: the converter reads the same value (one fact).
        self.monitor = SafetyMonitor.from_spec(self.spec)
        self.measured: dict[str, float] = {}
        self.received = 0
        self.output = self.create_publisher(JointState, ros.robot_command.name, COMMAND_QOS)
        self.diagnostics = self.create_publisher(DiagnosticArray, ros.diagnostics.name, 10)
        # Sensor-data QoS (best effort) matches both reliable and best-effort joint-state publishers.
        self.create_subscription(JointState, ros.joint_states.name, self.on_joint_state, qos_profile_sensor_data)
        self.create_subscription(JointState, self.source_topic, self.on_command, COMMAND_QOS)
        self.create_timer(1.0 / self.spec.rates.control_hz, self.on_tick)
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f"{self.source_topic} -> {ros.robot_command.name}, hold after "
                               f"{self.monitor.source_timeout_s:g} s of silence, holds at {self.spec.rates.control_hz:g} Hz")

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_joint_state(self, msg: JointState) -> None:
        if len(msg.name) == len(msg.position):
            self.measured.update(zip(msg.name, msg.position))
            self.monitor.observe(self.now_s())

    def on_command(self, msg: JointState) -> None:
        self.received += 1
        if len(msg.name) != len(msg.position):
            verdict = self.monitor.reject(f"{len(msg.name)} names but {len(msg.position)} positions",
                                          self.measured, self.now_s())
        else:
            verdict = self.monitor.step(dict(zip(msg.name, msg.position)), self.measured, self.now_s())
        self.publish(verdict)

    def on_tick(self) -> None:
        verdict = self.monitor.tick(self.measured, self.now_s())
        if verdict is not None:
            self.publish(verdict)

    def publish(self, verdict: Verdict) -> None:
        for event in verdict.events:
            # Clamps are routine while an operator pushes the envelope; anything else is a fault.
            if event.kind in CLAMP_KINDS:
                self.get_logger().info(f"{event.kind}: {event.message}", throttle_duration_sec=1.0)
            else:
                self.get_logger().warning(f"{event.kind}: {event.message}", throttle_duration_sec=1.0)
        if verdict.command is None:
            return
        msg = JointState(name=list(verdict.command), position=list(verdict.command.values()))
        msg.header.stamp = self.get_clock().now().to_msg()
        self.output.publish(msg)

    def publish_diagnostics(self) -> None:
        summary = self.monitor.summary()
        level = DiagnosticStatus.OK if summary["state"] == PASSING else DiagnosticStatus.WARN
        values = {"source_topic": self.source_topic, "received": self.received, **summary}
        status = DiagnosticStatus(level=level, name="dreamgen/safety_monitor", hardware_id=self.spec.name,
                                  message=str(summary["state"]),
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(msg)


main = main_for(SafetyMonitorNode)
