"""`dreamgen demo`: the DreamGen loop in miniature on the simulated robot, step by step.

Each step says what it did and where its output is: the embodiment spec; a bring-up check of a
real ROS 2 graph over Fast DDS; episodes recorded by the collect stack (simulated GR1, scripted
teleop, safety monitor, recorder) under a scripted operator; their conversion to a validated
GR00T-LeRobot dataset and world-model clips; the world model trained on sim clips of the recorded
tasks, its dreams (tasks without demos too) judged and measured against held-out scenes; the IDM
trained on the recorded demos, measured on held-out sim scenes, labelling the held-out dreams, which
are replayed in the sim; the policy co-trained on demos and labelled dreams, exported to ONNX,
rolled out beside the expert and deployed through the ROS graph; the report page.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.bag import read_info
from dreamgen_core.cli.demo_idm import add_arguments as add_idm_arguments
from dreamgen_core.cli.demo_idm import run_idm
from dreamgen_core.cli.demo_policy import add_arguments as add_policy_arguments
from dreamgen_core.cli.demo_policy import run_policy
from dreamgen_core.cli.demo_world_model import add_arguments as add_world_model_arguments
from dreamgen_core.cli.demo_world_model import run_world_model
from dreamgen_core.cli.embodiment_cmd import render
from dreamgen_core.convert import ConvertConfig, convert_bags
from dreamgen_core.dataset import ClipConfig, export_clips, validate
from dreamgen_core.embodiment import Embodiment, load_embodiment
from dreamgen_core.ros.node_process import NodeProcess, find_share
from dreamgen_core.ros.stack_runner import StackRunner
from dreamgen_core.stack import PlannedNode, load_stack, plan


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="run the whole loop in miniature on the simulated robot",
                                 description=__doc__.splitlines()[0])
    parser.add_argument("--embodiment", default="gr1", help="spec name or YAML path (default: gr1)")
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output directory (default: demo_output)")
    parser.add_argument("--check-seconds", type=float, default=3.0, help="how long to check the joint stream")
    parser.add_argument("--episodes", type=int, default=3,
                        help="episodes to record in simulation, one task after another (default: 3 of the 4 tasks: "
                             "the fourth has no demos and is only dreamed)")
    parser.add_argument("--camera", default="640x400", help="simulated head camera WxH (default: 640x400)")
    parser.add_argument("--robot", default="", choices=["", "grx"],
                        help="grx: the sim serves Fourier's GRX protocol on 127.0.0.1:7447 and gr1_driver bridges "
                             "it, the real GR1's path (default: the sim's own ROS interface)")
    add_world_model_arguments(parser)
    add_idm_arguments(parser)
    add_policy_arguments(parser)
    parser.set_defaults(run=run)


class Steps:
    """Announces each step with the time since the demo started, so a user sees where the time goes."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, n: int, text: str) -> None:
        print(f"\n[{n}] (at {self.elapsed():.0f} s) {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    step = Steps()
    args.out.mkdir(parents=True, exist_ok=True)
    spec = load_embodiment(args.embodiment)

    step(1, f"embodiment spec {spec.name}")
    print(render(spec))
    modality = args.out / "modality.json"
    write_text_atomic(modality, json.dumps(spec.modality(), indent=2) + "\n")
    print(f"-> GR00T modality.json: {modality}")

    if not check_graph(args, step):
        return 1
    episodes = collect(args, step)
    if not episodes or not convert(args, spec, episodes, step):
        return 1
    recorded = [str(read_info(bag).custom_data.get("instruction")) for bag in episodes]
    if not run_world_model(args, args.out / "dataset", recorded, step):
        return 1
    if not run_idm(args, args.out / "dataset", recorded, step):
        return 1
    if not run_policy(args, args.out / "dataset", recorded, step):
        return 1

    print(f"\ndemo finished in {step.elapsed():.1f} s; outputs in {args.out.resolve()}")
    return 0


def check_graph(args: argparse.Namespace, step: Steps) -> bool:
    step(2, "ROS 2 graph over Fast DDS: pose_publisher (robot stand-in) -> joint_state_check")
    report_path = args.out / "joint_check.json"
    report_path.unlink(missing_ok=True)
    params = {"embodiment": args.embodiment}
    with open(args.out / "ros_nodes.log", "wb") as log, NodeProcess("dreamgen", "pose_publisher", params, log=log):
        check = NodeProcess("dreamgen", "joint_state_check",
                            {**params, "duration_s": args.check_seconds, "report": str(report_path.resolve())},
                            log=log).start()
        code = check.wait(timeout=args.check_seconds + 30)
    if not report_path.exists():
        print(f"joint_state_check wrote no report (exit {code}); see {args.out / 'ros_nodes.log'}")
        return False
    report = json.loads(report_path.read_text())
    print(f"{report['messages']} JointState messages at {report['rate_hz']} Hz, "
          f"{len(report['joint_names']) - len(report['missing'])}/{len(report['joint_names'])} joints by name, "
          f"verdict: {'ok' if report['ok'] else report['problems']}")
    print(f"-> report: {report_path}   node logs: {args.out / 'ros_nodes.log'}")
    return bool(report["ok"]) and code == 0


def collect(args: argparse.Namespace, step: Steps) -> list[Path]:
    """Record episodes with the collect stack (as `dreamgen-stack collect --sim`) and a scripted operator."""
    step(3, f"collect: {args.episodes} episodes on the simulated GR1, each task of its family in turn "
            "(sim_robot, scripted_teleop -> safety_monitor -> /gr1/joint_command, episode_recorder)")
    share = find_share("dreamgen", os.environ)
    width, height = (int(v) for v in args.camera.lower().split("x"))
    episodes_dir = (args.out / "episodes").resolve()
    shutil.rmtree(episodes_dir, ignore_errors=True)
    report_path = (args.out / "collect.json").resolve()
    overrides: dict[str, dict[str, Any]] = {"sim_robot": {"camera_width": width, "camera_height": height},
                                            "episode_recorder": {"output_dir": str(episodes_dir), "operator": "demo"}}
    if args.robot == "grx":
        overrides["gr1_driver"] = {"hands": "standin"}  # the sim's hands are reached through its stand-in
    nodes = plan(load_stack(share / "config" / "collect.yaml"), sim=True, embodiment=args.embodiment, share_dir=share,
                 overrides=overrides, robot=args.robot)
    director = PlannedNode("dreamgen", "episode_director", "episode_director",
                           {"embodiment": args.embodiment, "use_sim_time": True, "episodes": args.episodes,
                            "report": str(report_path)})
    logs = args.out / "logs"
    with StackRunner([*nodes, director], logs) as runner:
        name, code = runner.wait_until_exit()
    if name != "episode_director" or code != 0:
        print(f"collect failed: {name} exited with {code}; see {logs / (name + '.log')}")
        return []
    bags = sorted(p for p in episodes_dir.iterdir() if (p / "metadata.yaml").is_file())
    instructions = set()
    for bag in bags:
        info = read_info(bag)
        meta = info.custom_data
        instructions.add(meta.get("instruction"))
        print(f"  {bag.name}: {meta.get('outcome')}, QA {meta.get('qa_verdict')}, {info.duration_s:.1f} s, "
              f"{sum(t.count for t in info.topics)} messages  \"{meta.get('instruction')}\"")
    print(f"-> {len(bags)} episode bags of {len(instructions)} tasks (rosbag2 MCAP): {episodes_dir}   "
          f"node logs: {logs}")
    return bags


def convert(args: argparse.Namespace, spec: Embodiment, bags: list[Path], step: Steps) -> bool:
    step(4, "convert: episode bags -> GR00T-LeRobot v2 dataset -> validate -> world-model clips "
            "(QA-flagged episodes too, annotated needs_review: the demo shows every task it recorded)")
    dataset, clips = args.out / "dataset", args.out / "wm_clips"
    shutil.rmtree(dataset, ignore_errors=True)
    shutil.rmtree(clips, ignore_errors=True)
    width, height = (int(v) for v in args.camera.lower().split("x"))  # the raw video keeps the sim camera's size
    results = convert_bags(bags, dataset, spec, ConvertConfig(include_flagged=True, raw_size=(height, width)),
                           workers=2)
    for r in results:
        print(f"  {r.status}: {r.message}")
    if not any(r.status == "converted" for r in results):
        return False
    problems = validate(dataset)
    print(f"-> dataset: {dataset}  validate: " + ("ok" if not problems else f"{len(problems)} violations: {problems[0]}"))
    report = export_clips(dataset, clips, ClipConfig(allow_upscale=True))  # the demo's small camera, explicitly
    for episode, why in report.skipped:
        print(f"  clip of episode {episode} skipped: {why}")
    print(f"-> world-model clips: {clips} ({len(report.written)} clips at 16 fps, 432x768, with prompts; "
          f"{report.framing.describe()})")
    return not problems
