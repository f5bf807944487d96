"""On a robot with apt ROS 2, `ros2 launch` runs the launch files in the *system* Python, not our venv.

Reproduced here: a clean environment, a working directory outside the repo, /usr/bin/python3 (no
venv) and only what `install/setup.bash` exports. Every module the launch files import, other than
the ROS core packages apt provides, must import — from the workspace as `make` builds it
(--symlink-install) and as the robot image builds it (a plain install).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
APT_ROS = {"launch", "launch_ros", "ament_index_python", "rclpy"}  # what `ros-jazzy-ros-base` brings


def launch_imports() -> set[str]:
    """Dotted module names imported by launch/*.launch.py, minus the standard library and apt's ROS."""
    found: set[str] = set()
    for path in sorted((REPO / "launch").glob("*.launch.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] not in APT_ROS | set(sys.stdlib_module_names)}


def import_with_system_python(install: Path, modules: set[str], cwd: Path) -> subprocess.CompletedProcess:
    # The workspace's copy must also say which version it is (episodes record it; colcon's own egg-info
    # once said 0.0.0 because setup.cfg did not carry the version).
    script = ("; ".join(f"import {m}" for m in sorted(modules)) + f"; print('imported', {len(modules)}); "
              "import dreamgen_core, importlib.metadata as md; "
              "print('version', md.version('dreamgen_core') == dreamgen_core.__version__ != '0.0.0')")
    command = f"source {install}/setup.bash && cd {cwd} && {SYSTEM_PYTHON} -c \"{script}\""
    return subprocess.run(["/bin/bash", "-c", command], env={"HOME": str(cwd), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def system_python() -> Path:
    assert SYSTEM_PYTHON.is_file(), f"{SYSTEM_PYTHON} is missing: this test stands for apt ROS 2's interpreter"
    version = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # colcon installs into lib/pythonX.Y of the interpreter that built the workspace (ours, as on a robot
    # whose venv is made from the system Python): the two must agree, or the setup file points elsewhere.
    assert version == str(sys.version_info[:2]), f"{SYSTEM_PYTHON} is {version}, the venv {sys.version_info[:2]}"
    return SYSTEM_PYTHON


def test_the_launch_files_import_something_of_ours() -> None:
    assert "dreamgen_core.stack" in launch_imports()


def test_launch_imports_resolve_in_the_system_python_from_the_dev_workspace(system_python, tmp_path) -> None:
    modules = launch_imports()
    result = import_with_system_python(REPO / "ros2_ws" / "install", modules, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"imported {len(modules)}" in result.stdout and "version True" in result.stdout, result.stdout


def test_launch_imports_resolve_in_the_system_python_from_a_robot_build(system_python, tmp_path) -> None:
    """The robot image's build: no --symlink-install, so dreamgen_core is copied into the workspace."""
    build = subprocess.run(
        [str(Path(sys.executable).parent / "colcon"), "--log-base", str(tmp_path / "log"), "build",
         "--base-paths", str(REPO / "ros2_ws" / "src"), "--build-base", str(tmp_path / "build"),
         "--install-base", str(tmp_path / "install"), "--metas", str(REPO / "colcon.meta"),
         "--event-handlers", "console_cohesion-", "summary-"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    copied = list((tmp_path / "install" / "dreamgen_core").glob("lib/python3*/site-packages/dreamgen_core/stack.py"))
    assert copied, "dreamgen_core was not installed into the workspace"
    modules = launch_imports()
    result = import_with_system_python(tmp_path / "install", modules, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"imported {len(modules)}" in result.stdout and "version True" in result.stdout, result.stdout
