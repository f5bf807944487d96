"""`dreamgen embodiment …` through the installed console script, as a user types it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dreamgen_core.embodiment import load_embodiment


def run(cli: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=60)


def test_modality_prints_the_gr1_layout(cli: Path) -> None:
    result = run(cli, "embodiment", "modality", "gr1")
    assert result.returncode == 0, result.stderr
    modality = json.loads(result.stdout)
    assert list(modality["state"]) == ["left_arm", "left_hand", "left_leg", "neck",
                                       "right_arm", "right_hand", "right_leg", "waist"]
    assert [(v["start"], v["end"]) for v in modality["state"].values()] == [
        (0, 7), (7, 13), (13, 19), (19, 22), (22, 29), (29, 35), (35, 41), (41, 44)]
    assert modality["action"] == modality["state"]
    assert modality["video"]["ego_view"]["original_key"] == "observation.images.ego_view"


def test_show_prints_a_row_per_slot(cli: Path) -> None:
    result = run(cli, "embodiment", "show", "gr1")
    assert result.returncode == 0, result.stderr
    spec = load_embodiment("gr1")
    rows = [ln.split() for ln in result.stdout.splitlines() if ln.split() and ln.split()[0].isdigit()]
    assert [(int(r[0]), r[2]) for r in rows] == list(enumerate(spec.joint_names))
    assert "crop rows 310:770 cols 110:1130 -> 720x480 -> pad 120 rows -> 256x256" in result.stdout


def test_second_embodiment_through_the_same_commands(cli: Path) -> None:
    result = run(cli, "embodiment", "modality", "ur5e_2f85")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == {"arm": {"start": 0, "end": 6}, "gripper": {"start": 6, "end": 7}}


def test_bad_spec_is_one_line_on_stderr_and_exit_2(cli: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    result = run(cli, "embodiment", "show", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "bad.yaml: robot_type: None: missing required key" in result.stderr


def test_help_explains_the_commands(cli: Path) -> None:
    result = run(cli, "--help")
    assert result.returncode == 0
    assert "embodiment" in result.stdout and "demo" in result.stdout
