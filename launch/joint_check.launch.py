"""Bring-up check on the robot: is every joint of the spec arriving, by name, fast enough?

    ros2 run dreamgen joint_state_check --ros-args -p duration_s:=5.0    # exit code = verdict (0 pass, 1 fail)
    ros2 launch dreamgen joint_check.launch.py duration_s:=5.0           # the same check, readable output
    ros2 launch dreamgen joint_check.launch.py fake_robot:=true duration_s:=5.0   # no robot: a fixed pose

Scripts take the verdict from `ros2 run`: `ros2 launch` does not pass a node's exit code on (it exits 0
whatever the check found). With duration_s > 0 the launch ends when the check ends (the fake robot is
stopped with it), so it never hangs in a script either. The nodes get dreamgen's Fast DDS transport
profile unless FASTRTPS_DEFAULT_PROFILES_FILE is set (see collect.launch.py).
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from dreamgen_core.ros.transport import transport_variables


def generate_launch_description() -> LaunchDescription:
    embodiment = LaunchConfiguration("embodiment")
    # `duration_s:=3` or `:=0` would reach the node as an integer and be refused (it declares a double).
    duration_s = ParameterValue(LaunchConfiguration("duration_s"), value_type=float)
    check = Node(package="dreamgen", executable="joint_state_check", output="screen",
                 parameters=[{"embodiment": embodiment, "duration_s": duration_s}])
    return LaunchDescription([
        *(SetEnvironmentVariable(name, value) for name, value in transport_variables(os.environ).items()),
        DeclareLaunchArgument("embodiment", default_value="gr1", description="spec name or YAML path"),
        DeclareLaunchArgument("duration_s", default_value="5.0",
                              description="seconds to check, then exit with a verdict (0: run forever)"),
        DeclareLaunchArgument("fake_robot", default_value="false",
                              description="also publish a fixed pose in place of the robot driver"),
        Node(package="dreamgen", executable="pose_publisher", condition=IfCondition(LaunchConfiguration("fake_robot")),
             parameters=[{"embodiment": embodiment}], output="screen"),
        check,
        RegisterEventHandler(OnProcessExit(target_action=check, on_exit=[
            EmitEvent(event=Shutdown(reason="joint_state_check finished"))])),
    ])
