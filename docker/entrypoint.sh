#!/usr/bin/env bash
# Robot image entry point: the apt ROS 2, the dreamgen workspace and its venv, then COMMAND.
set -e
source "/opt/ros/${ROS_DISTRO:-jazzy}/setup.bash"
source /opt/dreamgen/ros2_ws/install/setup.bash
export PATH=/opt/dreamgen/venv/bin:$PATH
exec "$@"
