"""Record teleop episodes on the GR1 (or its simulation): `ros2 launch dreamgen collect.launch.py`.

    ros2 launch dreamgen collect.launch.py                 # on the robot, beside its driver and teleop
    ros2 launch dreamgen collect.launch.py sim:=true       # simulated GR1 + scripted teleop
    ros2 run dreamgen episode_keyboard                     # operator keys, in a second terminal

The node list is share/dreamgen/config/collect.yaml, planned by dreamgen_core.stack: the same file
and the same code `dreamgen-stack collect` uses where `ros2 launch` is not installed.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from dreamgen_core.stack import load_stack, plan

PACKAGE = "dreamgen"


def _nodes(context):
    share = Path(get_package_share_directory(PACKAGE))
    config = LaunchConfiguration("config").perform(context) or str(share / "config" / "collect.yaml")
    planned = plan(load_stack(Path(config)),
                   sim=LaunchConfiguration("sim").perform(context).lower() in ("true", "1"),
                   embodiment=LaunchConfiguration("embodiment").perform(context), share_dir=share)
    return [Node(package=n.package, executable=n.executable, name=n.name, parameters=[n.parameters],
                 output="screen", emulate_tty=True) for n in planned]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("sim", default_value="false", description="true: simulated GR1 + scripted teleop"),
        DeclareLaunchArgument("config", default_value="", description="stack YAML (default: share/dreamgen/config/collect.yaml)"),
        DeclareLaunchArgument("embodiment", default_value="gr1", description="embodiment spec name or YAML path"),
        OpaqueFunction(function=_nodes),
    ])
