"""Stack descriptions, and a static check that the launch files name only things that exist."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from dreamgen_core.cli.stack_cmd import main as stack_main
from dreamgen_core.config import ConfigError
from dreamgen_core.ros.node_process import find_executable, find_share
from dreamgen_core.stack import argument_overrides, load_stack, parse_override, plan

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ros2_ws" / "src" / "dreamgen"
COLLECT = PACKAGE / "config" / "collect.yaml"


def entry_points() -> dict[str, str]:
    """console_scripts of the ROS package, read from setup.py's source: executable → module."""
    tree = ast.parse((PACKAGE / "setup.py").read_text())
    scripts = next(node for node in ast.walk(tree) if isinstance(node, ast.Dict)
                   and any(isinstance(k, ast.Constant) and k.value == "console_scripts" for k in node.keys))
    specs = ast.literal_eval(scripts.values[0])
    return {name.strip(): target.split(":")[0].strip() for name, target in (s.split("=") for s in specs)}


def test_collect_plans_sim_and_robot_from_one_file(tmp_path: Path) -> None:
    stack = load_stack(COLLECT)
    sim = plan(stack, sim=True, embodiment="gr1", share_dir=tmp_path)
    robot = plan(stack, sim=False, embodiment="gr1", share_dir=tmp_path)
    assert [n.name for n in sim] == ["sim_robot", "scripted_teleop", "safety_monitor", "episode_recorder"]
    assert [n.name for n in robot] == ["safety_monitor", "episode_recorder"]
    assert all(n.parameters["use_sim_time"] for n in sim) and not any(n.parameters["use_sim_time"] for n in robot)
    assert robot[1].parameters["config"] == str(tmp_path / "config" / "recording.yaml")


def test_overrides_win_and_must_name_a_node(tmp_path: Path) -> None:
    stack = load_stack(COLLECT)
    node, param, value = parse_override("sim_robot.camera_width=320")
    planned = plan(stack, sim=True, embodiment="gr1", share_dir=tmp_path, overrides={node: {param: value}})
    assert planned[0].parameters["camera_width"] == 320
    with pytest.raises(KeyError, match="no node named \\['simrobot'\\]"):
        plan(stack, sim=True, embodiment="gr1", share_dir=tmp_path, overrides={"simrobot": {"x": 1}})
    with pytest.raises(ValueError, match="must look like node.parameter=value"):
        parse_override("camera_width=320")


def test_stack_arguments_set_node_parameters_and_empty_keeps_the_default(tmp_path: Path) -> None:
    stack = load_stack(COLLECT)
    assert {"output_dir", "operator", "recording_config"} <= set(stack.arguments)
    overrides = argument_overrides(stack, {"output_dir": "/data/episodes", "operator": "", "recording_config": "r.yaml"})
    assert overrides == {"episode_recorder": {"output_dir": "/data/episodes", "config": "r.yaml"}}
    recorder = plan(stack, sim=False, embodiment="gr1", share_dir=tmp_path, overrides=overrides)[-1]
    assert recorder.parameters["output_dir"] == "/data/episodes" and "operator" not in recorder.parameters
    sim = argument_overrides(stack, {"instruction": "Use the right hand to push the blue cube from the table onto "
                                                    "the green target."})
    assert set(sim) == {"episode_recorder", "sim_robot"}  # the sim's task follows the recorded instruction
    assert plan(stack, sim=False, embodiment="gr1", share_dir=tmp_path, overrides=sim)[-1].parameters["instruction"]
    with pytest.raises(KeyError, match="has no argument \\['outdir'\\]; known: "):
        argument_overrides(stack, {"outdir": "/x"})


def test_a_stack_argument_must_name_a_node_of_the_stack(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndescription: y\nnodes:\n  - executable: a\narguments:\n"
                    "  out: {sets: [a.p, b.p], description: d}\n")
    with pytest.raises(ConfigError, match="bad.yaml: arguments.out.sets\\[1\\]: 'b.p': must be node.parameter with a node "
                                          "of this stack: \\['a'\\]"):
        load_stack(path)


def test_dreamgen_stack_shows_the_arguments_the_launch_file_declares(capsys, ros_env) -> None:
    assert stack_main(["collect", "--show-args"]) == 0
    shown = capsys.readouterr().out
    for name, arg in load_stack(COLLECT).arguments.items():
        assert f"'{name}': {arg.description}" in shown
    # The launch file declares exactly these, from the same file (static check: no launch wheel here).
    source = (REPO / "launch" / "collect.launch.py").read_text()
    assert "load_stack(DEFAULT_STACK).arguments" in source and "argument_overrides(" in source


def test_duplicate_node_names_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("name: x\ndescription: y\nnodes:\n  - executable: a\n  - executable: a\n")
    with pytest.raises(ConfigError, match="dup.yaml: nodes: \\['a'\\]: node names must be unique"):
        load_stack(path)


def test_every_stack_node_and_parameter_file_exists(ros_env: dict[str, str]) -> None:
    scripts = entry_points()
    share = find_share("dreamgen", ros_env)
    for stack_file in sorted((PACKAGE / "config").glob("*.yaml")):
        if "\nnodes:" not in stack_file.read_text():
            continue  # not a stack description (e.g. recording.yaml)
        for node in plan(load_stack(stack_file), sim=True, embodiment="gr1", share_dir=share):
            assert node.package == "dreamgen"
            assert node.executable in scripts, f"{stack_file.name}: no entry point {node.executable}"
            module = PACKAGE / (scripts[node.executable].replace(".", "/") + ".py")
            assert module.is_file(), f"{node.executable} -> {module} missing"
            for value in node.parameters.values():
                if isinstance(value, str) and value.startswith(str(share)):
                    assert Path(value).exists(), f"{stack_file.name}: parameter file {value} missing"


def launch_nodes(path: Path) -> list[dict[str, object]]:
    """Keyword arguments of every literal `Node(...)` call in a launch file."""
    calls = [n for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Node"]
    return [{k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)} for call in calls]


@pytest.mark.parametrize("launch_file", sorted((REPO / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_files_name_only_existing_packages_and_executables(launch_file: Path) -> None:
    source = launch_file.read_text()
    assert "from launch_ros.actions import Node" in source
    scripts = entry_points()
    for kwargs in launch_nodes(launch_file):
        if "package" in kwargs:
            assert kwargs["package"] == "dreamgen"
        if "executable" in kwargs:
            assert kwargs["executable"] in scripts, f"{launch_file.name}: {kwargs['executable']}"
    if "load_stack" in source:  # stack-driven: the node list comes from the stack file it names
        stem = launch_file.name.removesuffix(".launch.py")
        assert f'"{stem}.yaml"' in source and (PACKAGE / "config" / f"{stem}.yaml").is_file()
        assert "plan(" in source


def test_launch_and_config_files_are_installed(ros_env: dict[str, str]) -> None:
    share = find_share("dreamgen", ros_env)
    for launch_file in (REPO / "launch").glob("*.launch.py"):
        assert (share / "launch" / launch_file.name).is_file()
    for config in (PACKAGE / "config").glob("*.yaml"):
        assert (share / "config" / config.name).is_file()
    for executable in entry_points():
        assert find_executable("dreamgen", executable, ros_env).is_file()
    assert os.access(find_executable("dreamgen", "episode_recorder", ros_env), os.X_OK)
