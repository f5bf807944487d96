"""Scripted teleop: the sim task's expert streaming operator targets, as a VR/retargeting node would.

It reads the sim's ground truth (/sim/task: the episode's instruction, its cube and target, the
seed) and the measured joints, and publishes targets for every embodiment joint on the teleop topic
at the control rate, on sim time. A real teleop node plugs in by publishing the same topic.

A new attempt starts whenever the task's seed changes (after /sim/reset), from a joint state
measured after that reset: until one arrives the teleop says nothing rather than command the
previous episode's pose to a robot that is back at its start pose.
"""

from __future__ import annotations

import numpy as np
from rclpy.parameter import Parameter
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen.sim_robot import TASK_TOPIC
from dreamgen_core.sim.expert import Phase, ScriptedExpert
from dreamgen_core.sim.task import TaskState

STATE_TOPIC = "/teleop/state"
STAMP_EPS_S = 1e-6  # header stamps are rounded to the nanosecond: the last state before a reset may
                    # carry the reset's time plus a fraction of a nanosecond


class ScriptedTeleop(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("scripted_teleop")
        # The plan is timed in sim time: a slow sim must slow the operator down too.
        self.set_parameters([Parameter("use_sim_time", value=True)])
        self.expert = ScriptedExpert(self.spec)
        self.task: TaskState | None = None
        self.measured: np.ndarray | None = None
        self.measured_at = -1.0  # sim time of the measured joint state
        self.targets: np.ndarray | None = None
        self.names = list(self.spec.joint_names)
        self.command_pub = self.create_publisher(JointState, self.spec.ros.teleop_command.name, 10)
        self.state_pub = self.create_publisher(String, STATE_TOPIC, 10)
        self.create_subscription(String, TASK_TOPIC, self.on_task, 10)
        # Raw: only a pose to start an attempt from is decoded; the 250 Hz stream costs no CPU otherwise,
        # so a busy machine delays the control timer less.
        self.create_subscription(JointState, self.spec.ros.joint_states.name, self.on_joint_state, 10, raw=True)
        self.create_timer(1.0 / self.spec.rates.control_hz, self.tick)

    def on_task(self, msg: String) -> None:
        self.task = TaskState.from_json(msg.data)
        if self.task.seed != self.expert.seed:
            self.targets = None  # the scene was reset: the last attempt's targets are stale

    def on_joint_state(self, data: bytes) -> None:
        if self.task is None or self.task.seed == self.expert.seed:
            return  # an attempt is under way: the expert needs no measurement until the next reset
        msg = deserialize_message(data, JointState)
        placed = self.spec.place(msg.name, msg.position)
        if not placed.missing:
            self.measured = placed.vector
            self.measured_at = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9

    def tick(self) -> None:
        now = self.get_clock().now()
        t = now.nanoseconds * 1e-9
        if self.task is not None and self.task.seed != self.expert.seed:
            self.start_attempt(self.task, t)
        elif self.expert.phase is Phase.RUNNING:
            self.targets = self.expert.act(t)
        if self.targets is not None:  # once done, keep holding the last targets
            msg = JointState(name=self.names, position=self.targets.tolist())
            msg.header.stamp = now.to_msg()
            self.command_pub.publish(msg)
        self.state_pub.publish(String(data=self.expert.phase.value))

    def start_attempt(self, task: TaskState, t: float) -> None:
        """Start on `task` once a joint state measured after the reset that made it is in."""
        if self.measured is None or self.measured_at <= task.time + STAMP_EPS_S:
            return
        self.expert.start(task, self.measured, t)
        self.targets = self.expert.act(t)
        self.get_logger().info(f"attempt on seed {task.seed}: {task.instruction}")


main = main_for(ScriptedTeleop)
