"""Shared fixtures. ROS tests run only on loopback-only discovery with a private domain."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# MuJoCo picks its GL backend at import: headless EGL, whichever test module imports it first.
os.environ.setdefault("MUJOCO_GL", "egl")

import pytest  # noqa: E402

from dreamgen_core.ros.discovery import problems  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every ROS test goes through the guard, whether or not it asks for the fixture by name.
    for item in items:
        if item.get_closest_marker("ros"):
            item.fixturenames.insert(0, "ros_env")


@pytest.fixture(scope="session")
def ros_env() -> dict[str, str]:
    """The environment ROS tests start processes with; refuses to run them if it is unsafe."""
    found = problems(os.environ)
    if found:
        pytest.fail("refusing to run ROS tests: " + "; ".join(found) +
                    ". Run them with `make test` (or `dreamgen-ros-env -- pytest`).", pytrace=False)
    if not os.environ.get("AMENT_PREFIX_PATH"):
        pytest.fail("ros2_ws is not built and sourced: run `make test`, or `make setup` and "
                    "`source ros2_ws/install/setup.bash`", pytrace=False)
    return dict(os.environ)


@pytest.fixture
def cli() -> Path:
    """The installed `dreamgen` console script (what a user types)."""
    return VENV_BIN / "dreamgen"
