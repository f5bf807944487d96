"""`dreamgen doctor`: is this computer ready to collect? One line per check, exit code = verdict.

Checks the environment every ROS node here inherits (discovery range and domain, the Fast DDS
transport profile and whether it fits the range), what that profile needs of the host (socket
buffers, /dev/shm), free disk where episodes go, and then the collect graph: the episode recorder
in its check mode watches every recorded topic for `--seconds` (publishers, the QoS they offer and
it would ask, rates, gaps and holes by the episode QA's rules) and says which topic is not ready.
Exit 0 when nothing fails (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.recording import RecordingConfig, load_recording_config
from dreamgen_core.recording.graph_check import CHECK_PREFIX, Finding, Level
from dreamgen_core.ros.discovery import DOMAIN_VAR, LEGACY_VAR
from dreamgen_core.ros.node_process import NodeProcess, find_share
from dreamgen_core.ros.transport import LOCALHOST, LOOPBACK_PROFILE, PROFILE_VAR, RANGE_VAR, host_problems, profile_for

MB = 2**20
GRAPH_SETUP_S = 30.0  # the recorder's start-up and settling, beyond the watched seconds


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("doctor", help="check this computer and the collect graph before recording",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--embodiment", default="gr1", help="embodiment spec name or YAML path (default: gr1)")
    parser.add_argument("--config", type=Path,
                        help="recording YAML (default: the installed share/dreamgen/config/recording.yaml)")
    parser.add_argument("--output-dir", type=Path, help="where episodes go (default: the config's output_dir)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="how long to watch the collect graph's topics; 0 skips the graph (default 5)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    config = args.config or default_config(env)
    cfg = load_recording_config(config, load_embodiment(args.embodiment)) if config else RecordingConfig()
    output_dir = (args.output_dir or cfg.output_path).expanduser()
    findings = [*environment(env), disk(output_dir, cfg.min_free_disk_mb)]
    if args.seconds > 0:
        findings += graph(args.embodiment, config, output_dir, args.seconds, env)
    for f in findings:
        print(f)
    failed = sum(f.level is Level.FAIL for f in findings)
    print(f"doctor: {failed} check(s) failed" if failed else "doctor: ready to collect")
    return 1 if failed else 0


def default_config(env: Mapping[str, str]) -> Path | None:
    try:
        return find_share("dreamgen", env) / "config" / "recording.yaml"
    except FileNotFoundError:
        return None  # ros2_ws not built or sourced: the graph check says so


def environment(env: Mapping[str, str]) -> list[Finding]:
    """Discovery, the transport profile and what it needs of this host."""
    found = []
    scope = env.get(RANGE_VAR)
    domain = env.get(DOMAIN_VAR, "")
    reach = "this host only" if scope == LOCALHOST else "other hosts too (a robot talking to a workstation)"
    found.append(Finding(Level.OK if scope else Level.WARN,
                         f"discovery: {RANGE_VAR}={scope or '<unset: SUBNET>'} ({reach}), "
                         f"{DOMAIN_VAR}={domain or '<unset: 0, shared with every default ROS 2 user>'}"))
    if LEGACY_VAR in env:
        found.append(Finding(Level.WARN, f"discovery: {LEGACY_VAR} is deprecated in Jazzy; unset it and use {RANGE_VAR}"))
    profile = env.get(PROFILE_VAR)
    expected = profile_for(env)
    if not profile:
        found.append(Finding(Level.WARN, f"transport: {PROFILE_VAR} is unset: nodes dreamgen starts get {expected.name}, "
                                         f"but your own drivers use Fast DDS's defaults (raw images fragment over UDP): "
                                         f"export {PROFILE_VAR}={expected}"))
    elif Path(profile) == LOOPBACK_PROFILE and scope != LOCALHOST:
        found.append(Finding(Level.FAIL, f"transport: {PROFILE_VAR}={profile} keeps UDP on loopback but discovery "
                                         f"reaches other hosts: they cannot talk to this one; use {expected}"))
    elif Path(profile).is_file():
        found.append(Finding(Level.OK, f"transport: {PROFILE_VAR}={profile}"))
    problems = host_problems(env)
    found += [Finding(Level.FAIL if p.loses_frames else Level.WARN, f"host: {p}") for p in problems]
    if not problems:
        found.append(Finding(Level.OK, "host: socket buffers and /dev/shm fit the transport profile"))
    return found


def disk(output_dir: Path, min_free_mb: int) -> Finding:
    existing = next(p for p in (output_dir, *output_dir.parents) if p.exists())
    free = shutil.disk_usage(existing).free / MB
    level = Level.OK if free >= min_free_mb else Level.FAIL
    return Finding(level, f"disk: {free:.0f} MB free at {existing} for {output_dir} "
                          f"(the recorder refuses below {min_free_mb} MB)")


def graph(embodiment: str, config: Path | None, output_dir: Path, seconds: float,
          env: Mapping[str, str]) -> list[Finding]:
    """The episode recorder's check mode: one finding per recorded topic."""
    parameters: dict[str, object] = {"embodiment": embodiment, "check_s": seconds, "output_dir": str(output_dir)}
    if config:
        parameters["config"] = str(config)
    try:
        node = NodeProcess("dreamgen", "episode_recorder", parameters, env, log=subprocess.PIPE,
                           name="dreamgen_doctor")
    except (FileNotFoundError, RuntimeError) as exc:
        return [Finding(Level.WARN, f"graph: not checked from here ({exc}); on the robot run "
                                    f"`ros2 run dreamgen episode_recorder --ros-args -p check_s:={seconds:g}`")]
    process = node.start().process
    assert process is not None
    try:
        out, _ = process.communicate(timeout=seconds + GRAPH_SETUP_S)
    except subprocess.TimeoutExpired:
        node.stop()
        return [Finding(Level.FAIL, f"graph: the recorder's check did not finish in {seconds + GRAPH_SETUP_S:g} s")]
    lines = out.decode(errors="replace").splitlines()
    found = [Finding.parse(line.removeprefix(CHECK_PREFIX)) for line in lines if line.startswith(CHECK_PREFIX)]
    if not found:
        tail = " | ".join(lines[-3:])
        return [Finding(Level.FAIL, f"graph: the recorder's check failed (exit {process.returncode}): {tail}")]
    return [Finding(f.level, f"graph: {f.text}") for f in found]
