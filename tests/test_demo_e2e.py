"""End to end: `dreamgen demo` through the installed CLI — collect, convert, validate, clips, world model."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from dreamgen_core.dataset import validate
from dreamgen_core.embodiment import load_embodiment

pytestmark = pytest.mark.ros


@pytest.mark.timeout(1500)  # the whole loop through ROS, policy and deploy included; ~10 min on a busy machine
def test_demo_runs_the_loop_and_says_where_everything_is(cli: Path, ros_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    # The world model and the IDM at their smallest: 2 training scenes, 4 steps, 1 held-out scene.
    result = subprocess.run([str(cli), "demo", "--out", str(out), "--episodes", "2", "--camera", "320x200",
                             "--wm-seeds", "2", "--wm-steps", "4", "--wm-heldout", "1", "--idm-steps", "4",
                             "--idm-heldout", "1", "--policy-steps", "4",
                             "--policy-episodes", "1"],
                            env=ros_env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for where in ("modality.json", "episodes", "dataset", "wm_clips"):
        assert str(out / where) in result.stdout or str((out / where).resolve()) in result.stdout, where
    collected = json.loads((out / "collect.json").read_text())
    assert len(collected) == 2 and all(c["saved"] for c in collected)
    assert len({c["instruction"] for c in collected}) == 2  # two tasks of the sim's family
    assert "2 episode bags of 2 tasks" in result.stdout
    bags = [p for p in (out / "episodes").iterdir() if (p / "metadata.yaml").is_file()]
    assert len(bags) == 2
    first, *later = sorted(bags)
    for bag in later:
        assert still_at_first(bag, seconds=0.5) < 0.01, bag.name  # arms, waist, head (and camera) at rest
    # Known gap: in the first episode the teleop's first command engages the sim with the fingers a
    # safety margin (0.05 rad) inside their open limit, and that jolt reaches the arm (up to ~0.05 rad
    # for a moment). Later episodes start with the fingers there already.
    assert still_at_first(first, seconds=0.5) < 0.1, first.name
    assert validate(out / "dataset") == []
    # Every episode converts (QA-flagged ones annotated needs_review); none is rejected (e.g. a gap).
    assert "rejected:" not in result.stdout
    converted = json.loads((out / "dataset" / "meta" / "info.json").read_text())["total_episodes"]
    tasks = {json.loads(line)["task"] for line in (out / "dataset" / "meta" / "tasks.jsonl").read_text().splitlines()}
    assert converted == 2 and {c["instruction"] for c in collected} <= tasks
    rows = list(csv.DictReader((out / "wm_clips" / "metadata.csv").open()))
    assert len(rows) == converted - result.stdout.count("clip of episode")
    check_world_model(out, result.stdout)
    check_idm(out, result.stdout + result.stderr)
    check_policy_and_report(out, result.stdout)


def still_at_first(bag: Path, seconds: float) -> float:
    """How far any joint but the fingers moves (rad) over the first `seconds` of an episode.

    Fingers are left out: the safety margin keeps their targets 0.05 rad inside a limit that the
    open hand touches, and they creep there without moving anything else."""
    spec = load_embodiment("gr1")
    fingers = {n for g in spec.layout if g.group.endswith("_hand") for n in g.joints}
    with AnyReader([bag]) as reader:
        conn = next(c for c in reader.connections if c.topic == "/joint_states")
        msgs = [reader.deserialize(raw, conn.msgtype) for _, _, raw in reader.messages([conn])]
    keep = [k for k, name in enumerate(msgs[0].name) if name not in fingers]
    t = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in msgs])
    first = np.array([m.position for m in msgs])[t - t[0] < seconds][:, keep]
    return float(np.abs(first - first[0]).max())


def check_world_model(out: Path, stdout: str) -> None:
    """Every world-model artifact exists and the printed measurements are finite numbers."""
    wm = out / "world_model"
    run = json.loads((wm / "run" / "run.json").read_text())
    assert run["finished"] and run["steps_done"] == 4 and (wm / "run" / "loss.png").stat().st_size > 0
    dreams = sorted((wm / "dreams").glob("*.mp4"))
    assert len(dreams) == 2 * 4 and all(d.with_suffix(".json").is_file() for d in dreams)  # 2 episodes x 4 tasks
    sidecars = [json.loads(d.with_suffix(".json").read_text()) for d in dreams]
    assert any("blue cube" in s["instruction"] for s in sidecars)  # tasks the demo recorded no episode of
    scores = json.loads((wm / "dreams" / "bench_sim" / "scores.json").read_text())
    assert scores["count"] == 8 and all(0.0 <= v <= 1.0 for v in scores["means"].values())
    for group in ("tasks_with_demos", "tasks_without_demos"):
        quality = json.loads((wm / f"dreams_heldout_{group}" / "quality.json").read_text())
        methods = {m["method"]: m for m in quality["methods"]}
        assert {"model", "copy_first_frame", "mean_training_motion", "nearest_training_clip"} <= set(methods)
        assert all(math.isfinite(m["psnr"]) and m["videos"] == 2 for m in methods.values()), methods
    assert "tasks without demos" in stdout and "copy_first_frame" in stdout


def check_idm(out: Path, output: str) -> None:
    """The IDM stage: a checkpoint, the held-out eval with both baselines and the replay oracle, the labelled
    held-out dreams (one per task: the 1 held-out scene x 4 tasks) valid, replayed, their rate printed."""
    idm = out / "idm"
    assert (idm / "ckpt" / "model.safetensors").is_file() and (idm / "ckpt" / "loss.png").is_file()
    heldout = json.loads((idm / "eval_heldout" / "report.json").read_text())
    methods = {m["method"]: m for m in heldout["methods"]}
    assert set(methods) == {"idm", "hold_state", "mean_action"} and all(math.isfinite(m["mae"]) for m in methods.values())
    assert heldout["success"]["recorded"]["replayed"] == 2  # 1 held-out scene x the 2 recorded tasks
    assert validate(idm / "labelled") == []
    labelled = json.loads((idm / "labelled" / "meta" / "info.json").read_text())
    assert labelled["total_episodes"] == 4
    dreams = json.loads((idm / "eval_dreams" / "report.json").read_text())
    assert dreams["success"]["dream labels"]["replayed"] == 4
    assert "sim replay of dream labels:" in output and "hold_state" in output and "scale check" in output


def check_policy_and_report(out: Path, stdout: str) -> None:
    """The policy stages and the report: checkpoint, verified ONNX export, closed loop beside the expert on
    every task, the run through the ROS graph, and the page whose every image exists."""
    policy = out / "policy"
    assert (policy / "ckpt" / "loss.png").is_file() and (policy / "export" / "policy.onnx").is_file()
    evaluation = json.loads((policy / "eval" / "report.json").read_text())
    assert set(evaluation["success"]) == {"policy", "expert"} and len(evaluation["success"]["policy"]) == 4
    assert all(math.isfinite(v) for v in evaluation["overall"].values()) and evaluation["policy_latency"]["calls"] > 0
    deployed = json.loads((policy / "deploy" / "deploy.json").read_text())
    assert len(deployed) == 2 and all(isinstance(e["success"], bool) for e in deployed)  # a task with demos, one without
    index = out / "report" / "index.html"
    assert str(index.resolve()) in stdout
    images = re.findall(r'<img src="([^"]+)"', index.read_text())
    assert len(images) >= 6 and all((index.parent / src).stat().st_size > 0 for src in images)
