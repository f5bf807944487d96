"""The only publisher of robot commands: teleop or policy targets in, enveloped targets out.

A thin node over `dreamgen_core.safety.SafetyMonitor`: it turns JointState messages into commands
by name, publishes every verdict as a full JointState on the spec's robot command topic, ticks the
watchdogs at the control rate (holds while the source is silent, the e-stop is latched or joint
states are stale) and reports counts and state on /diagnostics at 1 Hz. Time is the node clock, so
it follows /clock under use_sim_time. Once joint states arrive it holds the measured pose until
the source speaks: from its first message on, the robot is never without a fresh, enveloped target.

Inputs: teleop (`source_topic`) and policy (`policy_topic`) commands, of which only the selected
source passes (`source` parameter, then the `~/use_teleop` / `~/use_policy` services); a policy
command's header stamp is its observation's capture time (chunk freshness). The policy needs
`~/enable` (SetBool) and ramps in from the measured pose. The e-stop (`/safety/estop`, Bool)
latches; `~/reset_estop` (Trigger) releases it once the input is False. The camera's info topic
(published with every frame) tells camera liveness. Another publisher on the robot command topic
latches the e-stop. Every event but routine clamps is logged and published on /diagnostics at
once (status `dreamgen/safety_monitor/event`); clamps are counted in the 1 Hz summary. Each
command's header.frame_id says why it was sent: "passing" or "holding (reason)".
`ood_stats`: a dataset's meta/stats.json or a policy directory (its norm) whose action q01/q99
bound the OOD warnings. `driver_rate_hz` above the control rate: targets interpolated between
the enveloped commands at that rate (`safety.interpolate`); holds still go out at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, JointState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen_core.config import ConfigError, read_yaml
from dreamgen_core.safety import POLICY, TELEOP, Outcome, SafetyEvent, SafetyMonitor, Verdict, default_rules, ood_rule
from dreamgen_core.safety.interpolate import CommandInterpolator
from dreamgen_core.safety.monitor import CLAMP_KINDS, PASSING

COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
EVENT_STATUS = "dreamgen/safety_monitor/event"
Response = TypeVar("Response", SetBool.Response, Trigger.Response)
WARN_ONLY = (*CLAMP_KINDS, "out_of_distribution", "enabled", "source_switched", "estop_reset")


class SafetyMonitorNode(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("safety_monitor")
        ros = self.spec.ros
        self.source_topic = str(self.declare_parameter("source_topic", ros.teleop_command.name).value)
        self.policy_topic = str(self.declare_parameter("policy_topic", ros.policy_command.name).value)
        source = str(self.declare_parameter("source", TELEOP).value)
        ood_stats = str(self.declare_parameter("ood_stats", "").value)
        driver_rate_hz = float(self.declare_parameter("driver_rate_hz", 0.0).value)
        if source not in (TELEOP, POLICY):
            raise ConfigError("<parameters>", "source", source, f"must be {TELEOP} or {POLICY}")
        # Limits and timeouts are the spec's, never parameters: the converter reads the same values (one fact).
        rules = default_rules()
        if ood_stats:
            rules.insert(1, ood_rule(*self.action_quantiles(Path(ood_stats))))
        self.monitor = SafetyMonitor.from_spec(self.spec, rules, source=source)
        self.measured: dict[str, float] = {}
        self.received = 0
        self.output = self.create_publisher(JointState, ros.robot_command.name, COMMAND_QOS)
        self.diagnostics = self.create_publisher(DiagnosticArray, ros.diagnostics.name, 10)
        # Sensor-data QoS (best effort) matches both reliable and best-effort joint-state publishers.
        self.create_subscription(JointState, ros.joint_states.name, self.on_joint_state, qos_profile_sensor_data)
        self.create_subscription(JointState, self.source_topic, lambda m: self.on_command(m, TELEOP), COMMAND_QOS)
        self.create_subscription(JointState, self.policy_topic, lambda m: self.on_command(m, POLICY), COMMAND_QOS)
        self.create_subscription(Bool, ros.estop.name, self.on_estop, COMMAND_QOS)
        for camera in self.spec.cameras.values():
            self.create_subscription(CameraInfo, camera.info_topic, self.on_camera, qos_profile_sensor_data)
        self.create_service(SetBool, "~/enable", self.on_enable)
        self.create_service(Trigger, "~/reset_estop", self.on_reset_estop)
        self.create_service(Trigger, "~/use_teleop", lambda q, r: self.on_select(TELEOP, r))
        self.create_service(Trigger, "~/use_policy", lambda q, r: self.on_select(POLICY, r))
        self.create_timer(1.0 / self.spec.rates.control_hz, self.on_tick)
        self.create_timer(1.0, self.publish_diagnostics)
        # Optional: a faster driver gets targets interpolated between the enveloped commands.
        self.interpolator: CommandInterpolator | None = None
        if driver_rate_hz > self.spec.rates.control_hz:
            self.interpolator = CommandInterpolator(1.0 / self.spec.rates.control_hz, {
                name: bounds.max_velocity for name, bounds in self.monitor.envelope.joints.items()})
            self.create_timer(1.0 / driver_rate_hz, self.on_driver_tick)
        self.get_logger().info(f"{self.source_topic} (teleop) | {self.policy_topic} (policy) -> {ros.robot_command.name}"
                               f", source {source}, hold after {self.monitor.source_timeout_s:g} s of silence, "
                               f"holds at {self.spec.rates.control_hz:g} Hz, e-stop {ros.estop.name}")

    def action_quantiles(self, path: Path) -> tuple[dict[str, float], dict[str, float]]:
        """The action q01/q99 by joint name: of a dataset's meta/stats.json, or of a policy directory's
        norm (policy.yaml or a checkpoint's policy_config.yaml: the real data it was trained on)."""
        manifest = next((path / n for n in ("policy.yaml", "policy_config.yaml") if (path / n).is_file()), None)
        try:
            if manifest is not None:
                norm = read_yaml(manifest)["norm"]
                low, high = norm["action_q01"], norm["action_q99"]
            else:
                action = json.loads(path.read_text())["action"]
                low, high = action["q01"], action["q99"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(str(path), "action q01/q99", None,
                              f"neither a dataset stats file nor a policy directory: {exc}") from None
        names = self.spec.joint_names
        if len(low) != len(names) or len(high) != len(names):
            raise ConfigError(str(path), "action.q01", len(low), f"needs {len(names)} values ({self.spec.name})")
        return dict(zip(names, map(float, low))), dict(zip(names, map(float, high)))

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_joint_state(self, msg: JointState) -> None:
        if len(msg.name) == len(msg.position):
            self.measured.update(zip(msg.name, msg.position))
            self.monitor.observe(self.now_s())

    def on_camera(self, _msg: CameraInfo) -> None:
        self.monitor.observe_camera(self.now_s())

    def on_command(self, msg: JointState, source: str) -> None:
        self.received += 1
        now = self.now_s()
        if len(msg.name) != len(msg.position):
            verdict = self.monitor.reject(f"{len(msg.name)} names but {len(msg.position)} positions",
                                          self.measured, now)
        else:
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            verdict = self.monitor.step(dict(zip(msg.name, msg.position)), self.measured, now, source,
                                        stamp if source == POLICY and stamp > 0 else None)
        self.publish(verdict, now)

    def on_estop(self, msg: Bool) -> None:
        now = self.now_s()
        verdict = self.monitor.estop(bool(msg.data), self.measured, now)
        if verdict is not None:
            self.publish(verdict, now)

    def on_tick(self) -> None:
        now = self.now_s()
        guard = self.monitor.publishers_seen(self.count_publishers(self.spec.ros.robot_command.name),
                                             self.measured, now)
        verdict = guard or self.monitor.tick(self.measured, now)
        if verdict is not None:
            self.publish(verdict, now)

    def on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        return self.answer(self.monitor.enable(bool(request.data), self.measured, self.now_s()), response)

    def on_reset_estop(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        return self.answer(self.monitor.reset_estop(self.now_s()), response)

    def on_select(self, source: str, response: Trigger.Response) -> Trigger.Response:
        return self.answer(self.monitor.select(source, self.now_s()), response)

    def answer(self, outcome: Outcome, response: Response) -> Response:
        for event in outcome.events:  # an operator's request: every one in the log, none throttled
            self.get_logger().warning(f"{event.kind}: {event.message}")
        self.report(outcome.events, log=False)
        response.success, response.message = outcome.ok, outcome.message
        return response

    def publish(self, verdict: Verdict, now_s: float) -> None:
        """Publish the verdict reached at `now_s`, stamped with it (the time the envelope was applied at);
        with a driver rate, passing commands go out interpolated by `on_driver_tick`, holds at once."""
        self.report(verdict.events)
        if verdict.command is None:
            return
        if self.interpolator is not None:
            self.interpolator.push(verdict.command, now_s, hold=self.monitor.holding)
            if not self.monitor.holding:
                return
        self.send(verdict.command, now_s)

    def on_driver_tick(self) -> None:
        assert self.interpolator is not None
        now = self.now_s()
        target = self.interpolator.at(now)
        if target is not None:
            self.send(target, now)

    def send(self, command: dict[str, float], now_s: float) -> None:
        msg = JointState(name=list(command), position=list(command.values()))
        msg.header.stamp.sec, nanosec = divmod(round(now_s * 1e9), 1_000_000_000)
        msg.header.stamp.nanosec = nanosec
        msg.header.frame_id = self.monitor.state  # why this command was sent: "passing" or "holding (why)"
        self.output.publish(msg)

    def report(self, events: list[SafetyEvent], log: bool = True) -> None:
        """Log every event (throttled: commands come at 20 Hz); publish every non-clamp event on
        /diagnostics at once."""
        statuses = []
        for event in events:
            # Clamps are routine while an operator pushes the envelope; anything else is a fault.
            if event.kind in CLAMP_KINDS:
                self.get_logger().info(f"{event.kind}: {event.message}", throttle_duration_sec=1.0)
                continue
            if log:
                self.get_logger().warning(f"{event.kind}: {event.message}", throttle_duration_sec=1.0)
            level = DiagnosticStatus.WARN if event.kind in WARN_ONLY else DiagnosticStatus.ERROR
            statuses.append(DiagnosticStatus(level=level, name=EVENT_STATUS, hardware_id=self.spec.name,
                                             message=event.message,
                                             values=[KeyValue(key="kind", value=event.kind),
                                                     KeyValue(key="joint", value=event.joint or "")]))
        if statuses:
            msg = DiagnosticArray(status=statuses)
            msg.header.stamp = self.get_clock().now().to_msg()
            self.diagnostics.publish(msg)

    def publish_diagnostics(self) -> None:
        summary = self.monitor.summary()
        level = DiagnosticStatus.OK if summary["state"] == PASSING else DiagnosticStatus.WARN
        values = {"source_topic": self.source_topic, "policy_topic": self.policy_topic, "received": self.received,
                  **summary}
        status = DiagnosticStatus(level=level, name="dreamgen/safety_monitor", hardware_id=self.spec.name,
                                  message=str(summary["state"]),
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(msg)


main = main_for(SafetyMonitorNode)
