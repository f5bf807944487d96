"""End to end: `dreamgen demo` through the installed CLI — collect, convert, validate, clips."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from dreamgen_core.dataset import validate

pytestmark = pytest.mark.ros


def test_demo_runs_the_loop_and_says_where_everything_is(cli: Path, ros_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run([str(cli), "demo", "--out", str(out), "--episodes", "2", "--camera", "320x200"],
                            env=ros_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for where in ("modality.json", "episodes", "dataset", "wm_clips"):
        assert str(out / where) in result.stdout or str((out / where).resolve()) in result.stdout, where
    collected = json.loads((out / "collect.json").read_text())
    assert len(collected) == 2 and all(c["saved"] for c in collected)
    assert len({c["instruction"] for c in collected}) == 2  # two tasks of the sim's family
    assert "2 episode bags of 2 tasks" in result.stdout
    bags = [p for p in (out / "episodes").iterdir() if (p / "metadata.yaml").is_file()]
    assert len(bags) == 2
    assert validate(out / "dataset") == []
    # Every episode converts unless QA flagged it (a loaded machine can); none is rejected (a gap).
    assert "rejected:" not in result.stdout
    converted = json.loads((out / "dataset" / "meta" / "info.json").read_text())["total_episodes"]
    assert converted == 2 - result.stdout.count("skipped: ") >= 1
    rows = list(csv.DictReader((out / "wm_clips" / "metadata.csv").open()))
    assert len(rows) == converted - result.stdout.count("clip of episode")
