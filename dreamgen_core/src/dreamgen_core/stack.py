"""Stack descriptions: which nodes a ROS 2 graph runs, with which parameters, in one YAML.

`launch/collect.launch.py` (real `ros2 launch` on the robot) and `dreamgen-stack` (CI, `make demo`,
laptops: there is no launch wheel on PyPI) both call `plan`, so the node list exists once and the
two launchers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from dreamgen_core.config import ConfigError, build, read_yaml

SHARE_PREFIX = "share:"  # a parameter value "share:config/x.yaml" is a file in the package's share dir


@dataclass(frozen=True)
class NodeEntry:
    """`robot`: run only when the stack's robot interface is this one (`--robot grx`: the GR1 bridge);
    `with_robot`: parameters added under a robot interface (the sim serving the GRX protocol)."""

    executable: str
    package: str = "dreamgen"
    name: str | None = None
    when: Literal["always", "sim", "robot"] = "always"
    robot: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    with_robot: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class StackArgument:
    """A user-facing setting of a stack: `ros2 launch … NAME:=VALUE` / `dreamgen-stack … --arg NAME=VALUE`
    sets every `node.parameter` in `sets` (of the nodes that run); empty (the default) leaves the nodes'
    own defaults."""

    sets: tuple[str, ...]
    description: str
    default: str = ""

    def targets(self) -> list[tuple[str, str]]:
        return [(t.partition(".")[0], t.partition(".")[2]) for t in self.sets]


@dataclass(frozen=True)
class Stack:
    name: str
    description: str
    nodes: tuple[NodeEntry, ...]
    arguments: dict[str, StackArgument] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedNode:
    """A node ready to start: what `launch_ros.actions.Node` or `NodeProcess` receives."""

    package: str
    executable: str
    name: str
    parameters: dict[str, Any]


def load_stack(path: Path) -> Stack:
    stack = build(Stack, read_yaml(path), path.name)
    names = [n.name or n.executable for n in stack.nodes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(path.name, "nodes", duplicates, "node names must be unique (set `name:`)")
    for key, arg in stack.arguments.items():
        if not arg.sets:
            raise ConfigError(path.name, f"arguments.{key}.sets", [], "at least one node.parameter")
        for i, (node, parameter) in enumerate(arg.targets()):
            if node not in names or not parameter:
                raise ConfigError(path.name, f"arguments.{key}.sets[{i}]", arg.sets[i],
                                  f"must be node.parameter with a node of this stack: {names}")
    return stack


def argument_overrides(stack: Stack, values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Node parameter overrides from stack argument values; empty values keep the nodes' defaults."""
    unknown = sorted(k for k, v in values.items() if v != "" and k not in stack.arguments)
    if unknown:
        raise KeyError(f"stack {stack.name!r} has no argument {unknown}; known: {sorted(stack.arguments)}")
    overrides: dict[str, dict[str, str]] = {}
    for key, value in values.items():
        if value != "":
            for node, parameter in stack.arguments[key].targets():
                overrides.setdefault(node, {})[parameter] = value
    return overrides


def robot_interfaces(stack: Stack) -> list[str]:
    """The robot interfaces a stack knows besides the default ("": the robot's own ROS driver)."""
    return sorted({n.robot for n in stack.nodes if n.robot} | {k for n in stack.nodes for k in n.with_robot})


def plan(stack: Stack, *, sim: bool, embodiment: str, share_dir: Path,
         overrides: Mapping[str, Mapping[str, Any]] | None = None, robot: str = "") -> list[PlannedNode]:
    """The nodes to start for `sim` or the real robot, parameters resolved, in start order.

    Every node gets `embodiment` and `use_sim_time` (true in simulation: the sim publishes /clock);
    `robot` picks the robot interface (e.g. "grx"); `overrides` maps a node name to parameters that
    win over the file's.
    """
    overrides = overrides or {}
    unknown = set(overrides) - {n.name or n.executable for n in stack.nodes}
    if unknown:
        raise KeyError(f"stack {stack.name!r} has no node named {sorted(unknown)}")
    if robot and robot not in robot_interfaces(stack):
        raise KeyError(f"stack {stack.name!r} has no robot interface {robot!r}; known: {robot_interfaces(stack)}")
    planned = []
    for node in stack.nodes:
        if node.when != "always" and (node.when == "sim") != sim:
            continue
        if node.robot and node.robot != robot:
            continue
        name = node.name or node.executable
        params = {"embodiment": embodiment, "use_sim_time": sim, **node.parameters,
                  **node.with_robot.get(robot, {}), **overrides.get(name, {})}
        params = {k: _resolve(v, share_dir) for k, v in params.items()}
        planned.append(PlannedNode(node.package, node.executable, name, params))
    return planned


def _resolve(value: Any, share_dir: Path) -> Any:
    if isinstance(value, str) and value.startswith(SHARE_PREFIX):
        return str(share_dir / value[len(SHARE_PREFIX):])
    return value


def parse_override(text: str) -> tuple[str, str, Any]:
    """`node.param=value` (value parsed as YAML: 320 → int, true → bool) → (node, param, value)."""
    target, sep, raw = text.partition("=")
    node, dot, param = target.partition(".")
    if not (sep and dot and node and param):
        raise ValueError(f"override {text!r} must look like node.parameter=value")
    return node, param, yaml.safe_load(raw)
