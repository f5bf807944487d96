"""Publish a fixed pose of every embodiment joint on the joint-states topic, by name.

A bring-up tool: lets the rest of the graph (recorder, checks, visualisation) run without a
robot. The pose is the middle of each joint's range, in the spec's `joints` order (the URDF's),
which differs from the layout order, so consumers that place joints by index are caught.
"""

from __future__ import annotations

from sensor_msgs.msg import JointState

from dreamgen.node_runtime import DreamgenNode, main_for


class PosePublisher(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("pose_publisher")
        # Twice the slowest rate the checks accept: a busy machine's timer jitter must not fail them.
        rate_hz = float(self.declare_parameter("rate_hz", 2 * self.spec.rates.joint_states_min_hz).value)
        self.names = list(self.spec.joints)
        self.positions = [(j.lower + j.upper) / 2.0 for j in self.spec.joints.values()]
        self.publisher = self.create_publisher(JointState, self.spec.ros.joint_states.name, 10)
        self.timer = self.create_timer(1.0 / rate_hz, self.publish)
        self.get_logger().info(f"publishing {len(self.names)} joints on {self.spec.ros.joint_states.name} "
                               f"at {rate_hz:g} Hz")

    def publish(self) -> None:
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = self.names
        msg.position = self.positions
        self.publisher.publish(msg)


main = main_for(PosePublisher)
