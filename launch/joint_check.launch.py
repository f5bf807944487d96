"""Bring-up check on the robot: is every joint of the spec arriving, by name, fast enough?

    ros2 launch dreamgen joint_check.launch.py embodiment:=gr1 duration_s:=5.0
    ros2 launch dreamgen joint_check.launch.py fake_robot:=true   # no robot: publish a fixed pose

Off the robot (no launch wheel on PyPI) the same two nodes are started by dreamgen_core's
NodeProcess, as `make demo` does.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    embodiment = LaunchConfiguration("embodiment")
    return LaunchDescription([
        DeclareLaunchArgument("embodiment", default_value="gr1", description="spec name or YAML path"),
        DeclareLaunchArgument("duration_s", default_value="0.0",
                              description="seconds to check, then exit with a verdict (0: run forever)"),
        DeclareLaunchArgument("fake_robot", default_value="false",
                              description="also publish a fixed pose in place of the robot driver"),
        Node(package="dreamgen", executable="pose_publisher", condition=IfCondition(LaunchConfiguration("fake_robot")),
             parameters=[{"embodiment": embodiment}], output="screen"),
        Node(package="dreamgen", executable="joint_state_check", output="screen",
             parameters=[{"embodiment": embodiment, "duration_s": LaunchConfiguration("duration_s")}]),
    ])
