"""The real GR1 on the robot's ROS contract, through Fourier's GRX client: a thin lifecycle node.

The driver object (`dreamgen_core.drivers.gr1_grx.Gr1GrxDriver`) does the work: joint order,
degrees, calibration offsets, hands, liveness and reconnecting. This node wires it, on the managed
node base (`dreamgen.managed_node`, which owns the transitions and records why it stopped):
- configure: reads parameters and the joint offsets file, builds the driver;
- activate: connects (in the background) and starts publishing /joint_states (every new state
  sample, by name, rad, offsets applied) and obeying /gr1/joint_command (the safety monitor's);
- deactivate: stops both; cleanup / shutdown: disconnects.
With `autostart` (default true) it configures and activates itself; a lifecycle manager can drive
it through the standard lifecycle services instead. Services: `~/enable` (SetBool: motors on/off),
`~/set_gains` (Trigger: sends the `gains_file` table). /diagnostics at 1 Hz says the link state:
ERROR while lost (joint states have stopped, commands are dropped), and the log says it once.
"""

from __future__ import annotations

import time
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger

from dreamgen.managed_node import ManagedNode
from dreamgen.node_runtime import main_for
from dreamgen_core.calibration.robot import load_joint_offsets
from dreamgen_core.config import ConfigError
from dreamgen_core.drivers.driver import JointReading, Link
from dreamgen_core.drivers.gains import load_gains
from dreamgen_core.drivers.gr1_grx import DriverError, Gr1GrxDriver, GrxSettings

COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LEVELS = {Link.UP: DiagnosticStatus.OK, Link.CONNECTING: DiagnosticStatus.WARN, Link.LOST: DiagnosticStatus.ERROR}


class Gr1DriverNode(ManagedNode):
    def __init__(self) -> None:
        super().__init__("gr1_driver")
        self.declare_parameter("server_ip", "127.0.0.1")
        self.declare_parameter("namespace", "gr")
        self.declare_parameter("offsets_file", "calibration/gr1_joint_offsets.yaml")
        self.declare_parameter("gains_file", "")
        self.declare_parameter("hands", "none")
        self.declare_parameter("hand_ips", ["192.168.137.19", "192.168.137.39"])
        self.declare_parameter("poll_rate_hz", 200.0)
        self.declare_parameter("stale_after_s", 0.1)
        self.declare_parameter("reconnect_after_s", 3.0)
        self.driver: Gr1GrxDriver | None = None
        self.joint_pub = self.create_lifecycle_publisher(JointState, self.spec.ros.joint_states.name, 50)
        self.diagnostics = self.create_publisher(DiagnosticArray, self.spec.ros.diagnostics.name, 10)
        self.create_subscription(JointState, self.spec.ros.robot_command.name, self.on_command, COMMAND_QOS)
        self.create_service(SetBool, "~/enable", self.on_enable)
        self.create_service(Trigger, "~/set_gains", self.on_set_gains)
        # Liveness is a wall-clock matter: poll on the steady clock, also under use_sim_time.
        self.create_timer(1.0 / float(self.get_parameter("poll_rate_hz").value), self.on_poll,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.create_timer(1.0, self.publish_diagnostics)
        self.autostart()

    # --- lifecycle (ManagedNode calls these) -------------------------------------------------------
    def setup(self) -> None:
        param = self.get_parameter
        offsets_file = Path(str(param("offsets_file").value))
        offsets = load_joint_offsets(offsets_file, self.spec)
        settings = GrxSettings(server_ip=str(param("server_ip").value), namespace=str(param("namespace").value),
                               hands=str(param("hands").value),
                               hand_ips=tuple(param("hand_ips").value),  # type: ignore[arg-type]
                               stale_after_s=float(param("stale_after_s").value),
                               reconnect_after_s=float(param("reconnect_after_s").value))
        self.driver = Gr1GrxDriver(self.spec, offsets, settings, log=self.get_logger().info)
        self.get_logger().info(f"GRX server tcp/{settings.server_ip}:7447 namespace {settings.namespace}, "
                               f"offsets {offsets_file} ({offsets.status}), hands {settings.hands}")

    def start(self) -> None:
        assert self.driver is not None
        self.driver.start()

    def teardown(self) -> None:
        """Cleanup, shutdown, and run_node's end of spin: disconnect."""
        if self.driver is not None:
            self.driver.close()
            self.driver = None

    # --- data ------------------------------------------------------------------------------------
    def on_poll(self) -> None:
        if not self.active or self.driver is None:
            return
        reading = self.driver.poll(time.monotonic())
        if reading is not None:
            self.joint_pub.publish(self.joint_state(reading))

    def joint_state(self, reading: JointReading) -> JointState:
        names = list(reading.positions)
        msg = JointState(name=names, position=[reading.positions[n] for n in names])
        if len(reading.velocities) == len(names):
            msg.velocity = [reading.velocities[n] for n in names]
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg

    def on_command(self, msg: JointState) -> None:
        if not self.active or self.driver is None:
            return
        if len(msg.name) != len(msg.position):
            self.get_logger().warning(f"command with {len(msg.name)} names but {len(msg.position)} positions "
                                      "ignored", throttle_duration_sec=1.0)
            return
        try:
            self.driver.command(dict(zip(msg.name, msg.position)))
        except DriverError as exc:
            self.get_logger().warning(f"command ignored: {exc}", throttle_duration_sec=1.0)

    # --- services --------------------------------------------------------------------------------
    def on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        try:
            self._require_driver().set_enable(bool(request.data))
            response.success, response.message = True, "motors " + ("on" if request.data else "off")
        except DriverError as exc:
            response.success, response.message = False, str(exc)
        self.get_logger().info(f"enable {request.data}: {response.message}")
        return response

    def on_set_gains(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        path = str(self.get_parameter("gains_file").value)
        try:
            driver = self._require_driver()
            if not path:
                raise DriverError("no gains_file parameter set")
            gains = load_gains(Path(path), driver.body.joint_order)
            reply = driver.set_gains(gains.kp, gains.kd)
            response.success, response.message = True, f"gains from {path} sent; server replied {reply!r}"
        except (DriverError, ConfigError, FileNotFoundError) as exc:
            response.success, response.message = False, str(exc)
        self.get_logger().info(f"set_gains: {response.message}")
        return response

    def _require_driver(self) -> Gr1GrxDriver:
        if self.driver is None or not self.active:
            raise DriverError("gr1_driver is not active")
        return self.driver

    def publish_diagnostics(self) -> None:
        values = self.driver.status() if self.driver is not None else {"link": "unconfigured"}
        link = self.driver.link if self.driver is not None else Link.CONNECTING
        status = DiagnosticStatus(level=LEVELS[link], name="dreamgen/gr1_driver", hardware_id=self.spec.name,
                                  message=f"link {values['link']}" + ("" if self.active else " (inactive)"),
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(msg)


main = main_for(Gr1DriverNode)
