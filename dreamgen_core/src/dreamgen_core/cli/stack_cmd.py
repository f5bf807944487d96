"""`dreamgen-stack STACK`: bring a ROS 2 stack up without `ros2 launch` (no launch wheel on PyPI).

Reads the same stack YAML as the launch files (share/dreamgen/config/STACK.yaml), so
`dreamgen-stack collect --sim` starts exactly the nodes of `ros2 launch dreamgen collect.launch.py
sim:=true`. Runs until Ctrl-C / SIGTERM, or until a node exits (then stops the rest and fails).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections import defaultdict
from pathlib import Path

from dreamgen_core.ros.discovery import require_safe
from dreamgen_core.ros.node_process import find_share
from dreamgen_core.ros.stack_runner import StackRunner
from dreamgen_core.stack import argument_overrides, load_stack, parse_override, plan


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dreamgen-stack", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="a stack name in share/dreamgen/config (e.g. collect) or a YAML path")
    parser.add_argument("--sim", action="store_true", help="run against the simulated robot (sim-only nodes, sim time)")
    parser.add_argument("--robot", default="", metavar="INTERFACE",
                        help="robot interface: grx starts gr1_driver, the bridge to Fourier's GRX server "
                             "(with --sim, the sim serves that protocol), e.g. --robot grx --arg robot_ip=192.168.137.220")
    parser.add_argument("--embodiment", default="gr1", help="embodiment spec name or path (default: gr1)")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="a stack argument, as `ros2 launch … NAME:=VALUE` (see --show-args), e.g. "
                             "--arg output_dir=$PWD/episodes (repeatable)")
    parser.add_argument("--show-args", action="store_true", help="list the stack's arguments and exit")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="override a node parameter, e.g. -p sim_robot.camera_width=320 (repeatable)")
    parser.add_argument("--log-dir", type=Path, default=Path("log/stack"), help="one log file per node (default: log/stack)")
    return parser


def stack_path(args: argparse.Namespace) -> Path:
    share = find_share("dreamgen", os.environ)
    path = Path(args.stack) if args.stack.endswith((".yaml", ".yml")) else share / "config" / f"{args.stack}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no stack file {path}")
    return path


def resolve_plan(args: argparse.Namespace) -> list:
    stack = load_stack(stack_path(args))
    values = dict(parse_argument(text) for text in args.arg)
    overrides: dict[str, dict] = defaultdict(dict, argument_overrides(stack, values))
    for text in args.param:
        node, param, value = parse_override(text)
        overrides[node][param] = value
    share = find_share("dreamgen", os.environ)
    return plan(stack, sim=args.sim, embodiment=args.embodiment, share_dir=share, overrides=overrides,
                robot=args.robot)


def parse_argument(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not (sep and name):
        raise ValueError(f"--arg {text!r} must look like NAME=VALUE")
    return name, value


def show_arguments(path: Path) -> str:
    stack = load_stack(path)
    lines = [f"Arguments of stack {stack.name!r} ({path}):"]
    for name, arg in stack.arguments.items():
        lines.append(f"    '{name}': {arg.description}\n        (default: '{arg.default}')")
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack exactly like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.show_args:
            print(show_arguments(stack_path(args)))
            return 0
        require_safe(os.environ, f"stack {args.stack}")
        nodes = resolve_plan(args)
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as exc:
        print(f"dreamgen-stack: error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    runner = StackRunner(nodes, args.log_dir)
    try:
        runner.start()
        for p in runner.processes:
            print(f"dreamgen-stack: {p.name} (pid {p.pid}) -> {runner.log_path(p.name)}", flush=True)
        name, code = runner.wait_until_exit()
        print(f"dreamgen-stack: {name} exited with {code}; stopping the stack (see {runner.log_path(name)})",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        runner.stop()


if __name__ == "__main__":
    sys.exit(main())
