"""ament_python package `dreamgen`; launch files live in the repo's top-level launch/."""

import os
from pathlib import Path

from setuptools import setup

PACKAGE = "dreamgen"
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
LAUNCH = REPO / "launch"  # repo/launch, installed to share/dreamgen/launch
CALIBRATION = REPO / "calibration"  # installed to share/dreamgen/calibration: hashed into every episode


def _relpath(path):
    # setuptools wants data files relative to this directory.
    return os.path.relpath(path, HERE)


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", [_relpath(p) for p in sorted(LAUNCH.glob("*.launch.py"))]),
        (f"share/{PACKAGE}/calibration", [_relpath(p) for p in sorted(CALIBRATION.glob("*.yaml"))]),
        (f"share/{PACKAGE}/config", [str(p.relative_to(HERE)) for p in sorted((HERE / "config").glob("*.yaml"))]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="dreamgen maintainers",
    maintainer_email="dreamgen@example.com",
    description="ROS 2 nodes of dreamgen: thin wrappers over dreamgen_core",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "pose_publisher = dreamgen.pose_publisher:main",
            "joint_state_check = dreamgen.joint_state_check:main",
            "sim_robot = dreamgen.sim_robot:main",
            "gr1_driver = dreamgen.gr1_driver:main",
            "scripted_teleop = dreamgen.scripted_teleop:main",
            "safety_monitor = dreamgen.safety_monitor:main",
            "policy_node = dreamgen.policy_node:main",
            "deploy_director = dreamgen.deploy_director:main",
            "episode_recorder = dreamgen.episode_recorder:main",
            "episode_keyboard = dreamgen.episode_keyboard:main",
            "episode_director = dreamgen.episode_director:main",
        ],
    },
)
