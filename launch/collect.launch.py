"""Record teleop episodes on the GR1 (or its simulation): `ros2 launch dreamgen collect.launch.py`.

    ros2 launch dreamgen collect.launch.py                 # on the robot, beside its driver and teleop
    ros2 launch dreamgen collect.launch.py sim:=true       # simulated GR1 + scripted teleop
    ros2 launch dreamgen collect.launch.py robot:=grx robot_ip:=192.168.137.220  # + the GR1 bridge
    ros2 launch dreamgen collect.launch.py output_dir:=/data/episodes operator:=alice
    ros2 launch dreamgen collect.launch.py --show-args     # every argument, documented
    ros2 run dreamgen episode_keyboard                     # operator keys, in a second terminal

The node list and the user arguments are share/dreamgen/config/collect.yaml, planned by
dreamgen_core.stack: the same file and code `dreamgen-stack collect` uses where `ros2 launch` is not
installed. With an apt-installed ROS 2 this file runs in the system Python: it imports only
dreamgen_core.stack (pure Python + PyYAML) and dreamgen_core.ros.transport (standard library),
which colcon installs into the workspace. Every node gets dreamgen's Fast DDS transport profile
(by the discovery range) unless FASTRTPS_DEFAULT_PROFILES_FILE is set.
"""

import os
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from dreamgen_core.ros.transport import transport_variables
from dreamgen_core.stack import argument_overrides, load_stack, plan

PACKAGE = "dreamgen"
SHARE = Path(get_package_share_directory(PACKAGE))
DEFAULT_STACK = SHARE / "config" / "collect.yaml"


def _nodes(context):
    config = LaunchConfiguration("config").perform(context) or str(DEFAULT_STACK)
    stack = load_stack(Path(config))
    values = {name: LaunchConfiguration(name).perform(context) for name in load_stack(DEFAULT_STACK).arguments}
    planned = plan(stack, sim=LaunchConfiguration("sim").perform(context).lower() in ("true", "1"),
                   embodiment=LaunchConfiguration("embodiment").perform(context), share_dir=SHARE,
                   overrides=argument_overrides(stack, values), robot=LaunchConfiguration("robot").perform(context))
    return [Node(package=n.package, executable=n.executable, name=n.name, parameters=[n.parameters],
                 output="screen", emulate_tty=True) for n in planned]


def generate_launch_description() -> LaunchDescription:
    stack_arguments = [DeclareLaunchArgument(name, default_value=arg.default, description=arg.description)
                       for name, arg in load_stack(DEFAULT_STACK).arguments.items()]
    return LaunchDescription([
        *(SetEnvironmentVariable(name, value) for name, value in transport_variables(os.environ).items()),
        DeclareLaunchArgument("sim", default_value="false", description="true: simulated GR1 + scripted teleop"),
        DeclareLaunchArgument("robot", default_value="",
                              description="robot interface: empty (its ROS driver runs beside) or grx (gr1_driver)"),
        DeclareLaunchArgument("embodiment", default_value="gr1", description="embodiment spec name or YAML path"),
        DeclareLaunchArgument("config", default_value="",
                              description="stack YAML (default: share/dreamgen/config/collect.yaml)"),
        *stack_arguments,
        OpaqueFunction(function=_nodes),
    ])
