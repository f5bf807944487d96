"""One install path: make and both Dockerfiles go through tools/install.sh and its constraints."""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
import yaml

from dreamgen_core.optional import require

REPO = Path(__file__).resolve().parents[1]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, args = pending.strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return instructions


def runs(instructions: list[tuple[str, str]]) -> list[str]:
    return [args for keyword, args in instructions if keyword == "RUN"]


@pytest.mark.parametrize(("name", "base", "flags"), [
    ("Dockerfile.robot", "ros:jazzy", ["--ros system", "--extras gpu"]),
    ("Dockerfile.core", "nvidia/cuda:", ["--ros none", "--torch cuda", "--extras ml,gpu"]),
])
def test_dockerfiles_install_through_the_project_script(name: str, base: str, flags: list[str]) -> None:
    instructions = dockerfile_instructions(REPO / "docker" / name)
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith(base)
    copies = [args for keyword, args in instructions if keyword == "COPY"]
    assert "tools/ tools/" in copies, "the install script and tools/constraints.txt must be in the image"
    install = [r for r in runs(instructions) if "tools/install.sh" in r]
    assert len(install) == 1, f"{name} must install Python packages with tools/install.sh exactly once"
    for flag in flags:
        assert flag in install[0]
    # No second install path for Python packages beside the script.
    assert not [r for r in runs(instructions) if re.search(r"\bpip3? install\b", r)]
    # The script it calls installs with the constraints file on every pip install.
    assert (REPO / "tools" / "constraints.txt").is_file()


def test_robot_image_builds_the_workspace_like_make() -> None:
    instructions = dockerfile_instructions(REPO / "docker" / "Dockerfile.robot")
    build = next(i for i, (kw, args) in enumerate(instructions) if kw == "RUN" and "tools/build_ws.sh" in args)
    copied_before = [args.split()[0] for kw, args in instructions[:build] if kw == "COPY"]
    # setup.py installs launch/ and calibration/ from the repo into share/dreamgen.
    for needed in ("tools/", "dreamgen_core/", "colcon.meta", "launch/", "calibration/", "ros2_ws/src/"):
        assert needed in copied_before, f"{needed} must be copied before the colcon build"
    makefile = (REPO / "Makefile").read_text()
    assert "tools/install.sh --venv" in makefile and "tools/build_ws.sh" in makefile


def test_every_pip_install_in_the_script_uses_the_constraints() -> None:
    lines = [ln for ln in (REPO / "tools" / "install.sh").read_text().splitlines() if '"${pip[@]}" install' in ln]
    assert len(lines) >= 4
    for line in lines:
        assert '-c "$constraints"' in line, line


def test_compose_services_use_the_robot_image_on_host_network() -> None:
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    assert compose["services"]
    for name, service in compose["services"].items():
        assert service["build"]["dockerfile"] == "docker/Dockerfile.robot", name
        assert service["network_mode"] == "host", name
        assert "ROS_AUTOMATIC_DISCOVERY_RANGE" in service["environment"], name


def test_the_robot_image_and_a_compose_service_run_collect_and_the_check_has_a_verdict() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile.robot").read_text()
    cmd = json.loads(next(ln for ln in dockerfile.splitlines() if ln.startswith("CMD "))[4:])
    assert cmd[:4] == ["ros2", "launch", "dreamgen", "collect.launch.py"]
    services = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())["services"]
    assert services["collect"]["command"][:4] == cmd[:4]
    # `ros2 launch` exits 0 whatever a node's exit code; the check's verdict comes from `ros2 run`.
    assert services["joint-check"]["command"][:4] == ["ros2", "run", "dreamgen", "joint_state_check"]
    # dreamgen_core is built into the workspace through ros2_ws/src/dreamgen_core -> ../../dreamgen_core,
    # so the link must resolve inside the image: dreamgen_core/ is copied to the same place beside it.
    link = REPO / "ros2_ws" / "src" / "dreamgen_core"
    assert link.is_symlink() and link.resolve() == REPO / "dreamgen_core"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_requirement_is_pinned_in_the_lock() -> None:
    pins = {}
    for line in (REPO / "tools" / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_norm(name)] = version
    project = tomllib.loads((REPO / "dreamgen_core" / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + [d for ds in project["optional-dependencies"].values() for d in ds]
    for req in (REPO / "tools").glob("requirements-*.txt"):
        wanted += [ln.strip() for ln in req.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    names = {_norm(re.split(r"[<>=\[ ;]", w)[0]) for w in wanted} - {_norm(project["name"])}  # its own extras
    unpinned = sorted(name for name in names if name not in pins)
    assert not unpinned, f"add these to tools/constraints.txt (make lock): {unpinned}"
    assert pins["torch"] == "2.13.0"


def test_this_environment_has_the_cpu_torch_and_no_cuda_wheels() -> None:
    import torch

    assert torch.__version__.startswith("2.13.0")
    assert torch.version.cuda is None
    cuda = [d.metadata["Name"] for d in metadata.distributions() if _norm(d.metadata["Name"] or "").startswith("nvidia-")]
    assert cuda == []


def test_tensorrt_import_is_guarded_with_a_clear_message() -> None:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"engine build needs the Python module 'tensorrt'.*--extras gpu"):
            require("tensorrt", "engine build")
    else:  # on a machine with TensorRT the guard returns the module itself
        assert require("tensorrt", "engine build").__name__ == "tensorrt"
