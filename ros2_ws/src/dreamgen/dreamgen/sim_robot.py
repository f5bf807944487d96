"""The simulated GR1 on the robot's ROS contract, running on simulation time that it publishes on /clock.

Physics advances in sim time at most `real_time_factor` times the wall clock (`RealTimePacer`);
when rendering (or a busy machine) cannot keep up, sim time slows down instead of skipping, and
catches up at most one control period of a stall, never in a long burst, so every stamp (joint
states, images, /clock) stays consistent with the physics that produced it, and nodes on sim time
keep their rates in it. The node's own loop
runs on the steady clock, never on the /clock it publishes. Sim-only extras, not part of the robot
contract: /sim/reset (next seed) and /sim/task (JSON ground truth for the scripted teleop and demo).

A reset puts the robot back at its start pose at once, which no real robot does: commands in
flight still describe the pose before it, and the safety monitor in front of the robot slews from
the last target it sent. So after a reset the sim holds the start pose and ignores commands until
one agrees with it (within ENGAGE_TOL_RAD), like a teleop that picks up only when the operator's
pose matches the robot's: episodes start from a robot at rest.

With `joint_interface: grx` the joints leave ROS: the sim serves Fourier's GRX protocol over Zenoh
(`dreamgen_core.drivers.grx_standin`, on `grx_address`:7447, loopback here) as the real GR1's server
would, and `gr1_driver` bridges it to /joint_states and /gr1/joint_command; camera, /clock and the
sim-only topics stay on ROS. `grx_offsets_file` makes its encoders read true angle − offset.

The task of the next episode is the `instruction` parameter (one of the task family's; an unknown
one is refused with the list of known ones). Set it through the parameter service, then call
/sim/reset: the reset starts that task, and the /sim/task message it publishes carries the
instruction with the new seed, so whoever follows the task cannot see one without the other.
"""

from __future__ import annotations

import time
from pathlib import Path

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo as CameraInfoMsg
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen_core.calibration.camera_info import CameraInfo, load_camera_info
from dreamgen_core.calibration.robot import load_joint_offsets
from dreamgen_core.config import ConfigError
from dreamgen_core.drivers.grx_server import GrxServer
from dreamgen_core.drivers.grx_standin import NO_OFFSETS, GrxStandIn
from dreamgen_core.sim.pacing import RealTimePacer
from dreamgen_core.sim.robot import SimRobot
from dreamgen_core.sim.task import DEFAULT_TASK, UnknownInstruction, task_for

TASK_TOPIC = "/sim/task"
RESET_SERVICE = "/sim/reset"
TASK_RATE_HZ = 10.0
MAX_LAG_S = 0.05      # the backlog caught up after a stall, at most: one teleop control period (20 Hz)
TICK_S = 0.002        # wall period of the loop that advances the sim
ENGAGE_TOL_RAD = 0.1  # after a reset, commands apply once they are this close to the start pose


def stamp(seconds: float) -> Time:
    nanoseconds = round(seconds * 1e9)
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def camera_info_msg(info: CameraInfo, frame_id: str) -> CameraInfoMsg:
    msg = CameraInfoMsg(width=info.width, height=info.height, distortion_model=info.distortion_model)
    msg.header.frame_id = frame_id
    msg.k, msg.d, msg.r, msg.p = (info.k.ravel().tolist(), info.d.tolist(), info.r.ravel().tolist(),
                                  info.p.ravel().tolist())
    return msg


class SimRobotNode(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("sim_robot")
        cam = next(iter(self.spec.cameras.values()))
        self.seed = int(self.declare_parameter("seed", 0).value)
        width = int(self.declare_parameter("camera_width", cam.width).value)
        height = int(self.declare_parameter("camera_height", cam.height).value)
        rtf = float(self.declare_parameter("real_time_factor", 1.0).value)
        rate_hz = float(self.declare_parameter("joint_state_rate_hz", 250.0).value)
        command_topic = str(self.declare_parameter("command_topic", self.spec.ros.robot_command.name).value)
        info_file = Path(str(self.declare_parameter("camera_info_file", "calibration/sim_gr1_ego_view.yaml").value))

        task = task_for(str(self.declare_parameter("instruction", DEFAULT_TASK.instruction).value))
        self.add_on_set_parameters_callback(self.on_parameters)

        self.robot = SimRobot(self.spec, self.seed, task=task)
        self.engaged = False  # see the module docstring: the start pose holds until a command agrees
        self.camera = self.robot.renderer(width, height)
        self.info = camera_info_msg(load_camera_info(info_file).scaled(width, height), self.robot.camera_name)
        self.steps_per_state = max(1, round(1.0 / (rate_hz * self.robot.timestep)))
        self.frame_period = 1.0 / cam.rate_hz
        self.next_frame = self.next_task = self.robot.time

        reliable = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self.standin = self.grx_standin(str(self.declare_parameter("joint_interface", "ros").value))
        self.joint_pub = self.create_publisher(JointState, self.spec.ros.joint_states.name, 50)
        self.clock_pub = self.create_publisher(ClockMsg, self.spec.ros.clock.name, 10)
        self.image_pub = self.create_publisher(Image, cam.topic, reliable)
        self.info_pub = self.create_publisher(CameraInfoMsg, cam.info_topic, 10)
        self.task_pub = self.create_publisher(String, TASK_TOPIC, 10)
        if self.standin is None:
            self.create_subscription(JointState, command_topic, self.on_command, 10)
        self.create_service(Trigger, RESET_SERVICE, self.on_reset)
        self.pacer = RealTimePacer(rtf, MAX_LAG_S, time.monotonic(), self.robot.time)
        self.create_timer(TICK_S, self.tick, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(f"sim GR1 seed {self.seed}, camera {width}x{height} at {cam.rate_hz:g} Hz, "
                               f"joint states at {1 / (self.steps_per_state * self.robot.timestep):g} Hz sim time, "
                               f"commands on {command_topic}: {self.robot.task_state().instruction}")

    def grx_standin(self, interface: str) -> GrxStandIn | None:
        """None for the ROS joint interface; for `grx`, the GRX server the joints are served on."""
        address = str(self.declare_parameter("grx_address", "127.0.0.1").value)
        namespace = str(self.declare_parameter("grx_namespace", "gr").value)
        offsets_file = str(self.declare_parameter("grx_offsets_file", "").value)
        if interface == "ros":
            return None
        if interface != "grx":
            raise ConfigError("sim_robot", "joint_interface", interface, "must be ros or grx")
        offsets = load_joint_offsets(Path(offsets_file), self.spec) if offsets_file else NO_OFFSETS
        self.get_logger().info(f"joints served as a GRX server on tcp/{address}:7447 namespace {namespace}")
        return GrxStandIn(self.robot, GrxServer(address, namespace), offsets, accept=self.accepts)

    def accepts(self, names: list[str], positions: list[float]) -> bool:
        """Whether a command may move the robot (see the module docstring on engaging after a reset)."""
        if not self.engaged:
            if not self.robot.agrees(names, positions, ENGAGE_TOL_RAD):
                self.get_logger().info(f"holding the start pose until commands come within {ENGAGE_TOL_RAD} rad "
                                       "of it", throttle_duration_sec=1.0)
                return False
            self.engaged = True
        return True

    def on_command(self, msg: JointState) -> None:
        if not self.accepts(list(msg.name), list(msg.position)):
            return
        result = self.robot.command(msg.name, msg.position)
        if result.unknown:
            self.get_logger().warning(f"ignoring unknown joints {list(result.unknown)}", throttle_duration_sec=5.0)
        if result.nonfinite:
            self.get_logger().warning(f"ignoring non-finite targets for {list(result.nonfinite)}",
                                      throttle_duration_sec=5.0)

    def on_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Refuse an instruction outside the task family (it takes effect at the next reset)."""
        for p in params:
            if p.name == "instruction":
                try:
                    task_for(str(p.value))
                except UnknownInstruction as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def on_reset(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.seed += 1
        self.robot.reset(self.seed, task_for(str(self.get_parameter("instruction").value)))
        self.engaged = False
        self.publish_task()
        response.success, response.message = True, f"seed {self.seed}"
        self.get_logger().info(f"reset to seed {self.seed}: {self.robot.task.instruction}")
        return response

    def tick(self) -> None:
        """Advance the sim towards where the wall clock says it should be, publishing as it goes."""
        goal = self.pacer.goal(time.monotonic(), self.robot.time)
        period = self.steps_per_state * self.robot.timestep
        while self.robot.time + period <= goal:
            self.robot.step(self.steps_per_state)
            if self.standin is not None:
                self.clock_pub.publish(ClockMsg(clock=stamp(self.robot.time)))
                self.standin.sync()
            else:
                self.publish_state()
            if self.robot.time >= self.next_frame:
                self.next_frame += self.frame_period
                self.publish_image()
            if self.robot.time >= self.next_task:
                self.next_task += 1.0 / TASK_RATE_HZ
                self.publish_task()

    def publish_state(self) -> None:
        t = stamp(self.robot.time)
        self.clock_pub.publish(ClockMsg(clock=t))
        msg = JointState(name=list(self.robot.joint_names), position=self.robot.positions().tolist(),
                         velocity=self.robot.velocities().tolist(), effort=self.robot.efforts().tolist())
        msg.header.stamp = t
        self.joint_pub.publish(msg)

    def publish_image(self) -> None:
        pixels = self.camera.render()
        msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding="rgb8", step=pixels.shape[1] * 3)
        msg.header.stamp = stamp(self.robot.time)
        msg.header.frame_id = self.robot.camera_name
        msg.data = pixels.tobytes()
        self.image_pub.publish(msg)
        self.info.header.stamp = msg.header.stamp
        self.info_pub.publish(self.info)

    def publish_task(self) -> None:
        self.task_pub.publish(String(data=self.robot.task_state().to_json()))

    def on_shutdown(self) -> None:
        self.camera.close()
        if self.standin is not None:
            self.standin.server.close()


main = main_for(SimRobotNode)
