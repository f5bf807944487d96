#!/usr/bin/env bash
# Build ros2_ws with colcon from the given environment (the same python that runs the nodes).
# Used by make (with --symlink-install: node edits are live) and docker/Dockerfile.robot.
# usage: tools/build_ws.sh [VENV [COLCON BUILD ARGS...]]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
colcon=colcon
[[ $# -ge 1 ]] && colcon="$(cd "$1" && pwd)/bin/colcon"
cd "$root/ros2_ws"
"$colcon" --log-base log build --metas "$root/colcon.meta" --event-handlers console_cohesion- summary+ "${@:2}"
