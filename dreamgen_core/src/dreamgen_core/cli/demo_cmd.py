"""`dreamgen demo`: the DreamGen loop in miniature on the simulated robot, step by step.

Each step says what it did and where its output is. Today the loop has its foundation: the
embodiment spec and a real ROS 2 graph (a pose publisher standing in for the robot, checked by
joint_state_check over Fast DDS). Later stages append their steps here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.cli.embodiment_cmd import render
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.ros.node_process import NodeProcess


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="run the whole loop in miniature on the simulated robot",
                                 description=__doc__.splitlines()[0])
    parser.add_argument("--embodiment", default="gr1", help="spec name or YAML path (default: gr1)")
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output directory (default: demo_output)")
    parser.add_argument("--check-seconds", type=float, default=3.0, help="how long to check the joint stream")
    parser.set_defaults(run=run)


def step(n: int, text: str) -> None:
    print(f"\n[{n}] {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    spec = load_embodiment(args.embodiment)

    step(1, f"embodiment spec {spec.name}")
    print(render(spec))
    modality = args.out / "modality.json"
    write_text_atomic(modality, json.dumps(spec.modality(), indent=2) + "\n")
    print(f"-> GR00T modality.json: {modality}")

    step(2, "ROS 2 graph over Fast DDS: pose_publisher (robot stand-in) -> joint_state_check")
    report_path = args.out / "joint_check.json"
    report_path.unlink(missing_ok=True)
    params = {"embodiment": args.embodiment}
    with open(args.out / "ros_nodes.log", "wb") as log:
        with NodeProcess("dreamgen", "pose_publisher", params, log=log):
            check = NodeProcess("dreamgen", "joint_state_check",
                                {**params, "duration_s": args.check_seconds, "report": str(report_path.resolve())},
                                log=log).start()
            code = check.wait(timeout=args.check_seconds + 30)
    if not report_path.exists():
        print(f"joint_state_check wrote no report (exit {code}); see {args.out / 'ros_nodes.log'}")
        return 1
    report = json.loads(report_path.read_text())
    print(f"{report['messages']} JointState messages at {report['rate_hz']} Hz, "
          f"{len(report['joint_names']) - len(report['missing'])}/{len(report['joint_names'])} joints by name, "
          f"verdict: {'ok' if report['ok'] else report['problems']}")
    print(f"-> report: {report_path}   node logs: {args.out / 'ros_nodes.log'}")

    print(f"\ndemo finished in {time.monotonic() - started:.1f} s; outputs in {args.out.resolve()}")
    return 0 if report["ok"] and code == 0 else 1
