from setuptools import setup

# Metadata and dependencies live in pyproject.toml; setup.py and setup.cfg exist so that colcon builds
# this package into ros2_ws (ros2_ws/src/dreamgen_core links here) and apt ROS 2's own interpreter finds it.
setup()
