"""Run an exported policy on the GR1 (or its simulation): `ros2 launch dreamgen deploy.launch.py`.

    ros2 launch dreamgen deploy.launch.py policy:=/data/policy_export            # on the robot, beside its driver
    ros2 launch dreamgen deploy.launch.py policy:=/data/policy_export sim:=true  # simulated GR1
    ros2 launch dreamgen deploy.launch.py policy:=DIR robot:=grx robot_ip:=192.168.137.220  # + the GR1 bridge
    ros2 launch dreamgen deploy.launch.py --show-args                            # every argument, documented
    ros2 service call /safety_monitor/enable std_srvs/srv/SetBool "{data: true}"  # operator enable (ramps in)
    ros2 topic pub --once /safety/estop std_msgs/msg/Bool "{data: true}"         # e-stop (latched)
    ros2 service call /safety_monitor/reset_estop std_srvs/srv/Trigger          # after releasing it

The node list and the user arguments are share/dreamgen/config/deploy.yaml, planned by
dreamgen_core.stack: the same file and code `dreamgen-stack deploy` uses where `ros2 launch` is not
installed. With an apt-installed ROS 2 this file runs in the system Python: it imports only
dreamgen_core.stack (pure Python + PyYAML) and dreamgen_core.ros.transport (standard library).
Every node gets dreamgen's Fast DDS transport profile unless FASTRTPS_DEFAULT_PROFILES_FILE is set.
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
DEFAULT_STACK = SHARE / "config" / "deploy.yaml"


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
        DeclareLaunchArgument("sim", default_value="false", description="true: the simulated GR1"),
        DeclareLaunchArgument("robot", default_value="",
                              description="robot interface: empty (its ROS driver runs beside) or grx (gr1_driver)"),
        DeclareLaunchArgument("embodiment", default_value="gr1", description="embodiment spec name or YAML path"),
        DeclareLaunchArgument("config", default_value="",
                              description="stack YAML (default: share/dreamgen/config/deploy.yaml)"),
        *stack_arguments,
        OpaqueFunction(function=_nodes),
    ])
