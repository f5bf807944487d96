"""validate / `dreamgen validate`: a good dataset passes; each corruption yields its own violation."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_dataset_writer import FPS, LENGTHS, RAW_VIDEO, VIDEO, build_dataset

from dreamgen_core.dataset import validate

EP1 = "data/chunk-000/episode_000001.parquet"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("ds") / "gr1_real")


def rewrite(root: Path, rel: str, change: Callable[[pa.Table], pa.Table]) -> None:
    path = root / rel
    pq.write_table(change(pq.read_table(path)), path)


def set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, values)


def edit_json(root: Path, rel: str, change: Callable[[dict], None]) -> None:
    data = json.loads((root / rel).read_text())
    change(data)
    (root / rel).write_text(json.dumps(data))


CORRUPTIONS = {
    "video deleted": (lambda r: (r / f"videos/chunk-000/{VIDEO}/episode_000001.mp4").unlink(),
                      f"videos/chunk-000/{VIDEO}/episode_000001.mp4: missing"),
    "raw video of another size": (
        lambda r: shutil.copy(r / f"videos/chunk-000/{VIDEO}/episode_000001.mp4",
                              r / f"videos/chunk-000/{RAW_VIDEO}/episode_000001.mp4"),
        f"videos/chunk-000/{RAW_VIDEO}/episode_000001.mp4: size 256x256: meta/info.json says [200, 320]"),
    "raw video missing from modality.json": (
        lambda r: edit_json(r, "meta/modality.json", lambda m: m["video"].pop("egoview")),
        f"meta/modality.json: video: {RAW_VIDEO} is a video feature but no video key names it"),
    "parquet row dropped": (lambda r: rewrite(r, EP1, lambda t: t.slice(0, t.num_rows - 1)),
                            f"{EP1}: 31 rows: meta/episodes.jsonl says length 32"),
    "timestamps start at 1/fps": (
        lambda r: rewrite(r, EP1, lambda t: set_column(
            t, "timestamp", pc.add(t.column("timestamp"), pa.scalar(1 / FPS, pa.float32())))),
        f"{EP1}: timestamp[0]: 0.05000000074505806: expected 0.0 = frame_index/fps (32 of 32 rows differ)"),
    "state one joint short": (
        lambda r: rewrite(r, EP1, lambda t: set_column(t, "observation.state", pa.array(
            [row[:43] for row in t.column("observation.state").to_pylist()], pa.list_(pa.float32())))),
        f"{EP1}: observation.state[0]: width 43: expected 44 (32 rows)"),
    "duplicate global index": (
        lambda r: rewrite(r, EP1, lambda t: set_column(t, "index", pc.subtract(t.column("index"), 1))),
        f"{EP1}: index[0]: {LENGTHS[0] - 1}: expected {LENGTHS[0]} (the global index must be contiguous)"),
    "stale stats": (lambda r: edit_json(r, "meta/stats.json", lambda s: s["action"]["mean"].__setitem__(3, 9.0)),
                    "meta/stats.json: action.mean[3]: 9: a recomputation gives "),
    "validity index out of range": (
        lambda r: rewrite(r, EP1, lambda t: set_column(
            t, "annotation.human.validity", pa.array([7] * t.num_rows, pa.int64()))),
        f"{EP1}: annotation.human.validity[0]: 7: not an index into meta/tasks.jsonl (4 rows)"),
    "info total_frames wrong": (lambda r: edit_json(r, "meta/info.json", lambda i: i.update(total_frames=1)),
                                f"meta/info.json: total_frames: 1: the files say {sum(LENGTHS)}"),
    "episode in the wrong chunk": (
        lambda r: (r / "data/chunk-001").mkdir() or (r / EP1).rename(r / "data/chunk-001/episode_000001.parquet"),
        "data/chunk-001/episode_000001.parquet: not part of any episode in meta/episodes.jsonl"),
    "modality narrower than the state": (
        lambda r: edit_json(r, "meta/modality.json", lambda m: m["state"].pop("waist")),
        "meta/modality.json: state: slices end at 41: observation.state has 44 values"),
    "stats.json missing": (lambda r: (r / "meta/stats.json").unlink(), "meta/stats.json: missing"),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_each_corruption_is_named(dataset: Path, tmp_path: Path, name: str) -> None:
    corrupt, message = CORRUPTIONS[name]
    root = tmp_path / "corrupt"
    shutil.copytree(dataset, root)
    corrupt(root)
    problems = validate(root)
    assert any(p.startswith(message) for p in problems), "\n".join(problems)


def test_shifted_timestamps_also_disagree_with_the_video(dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "corrupt"
    shutil.copytree(dataset, root)
    CORRUPTIONS["timestamps start at 1/fps"][0](root)
    assert (f"videos/chunk-000/{VIDEO}/episode_000001.mp4: pts[0]: 0.000000 s: the parquet timestamp is 0.050000 s "
            "(32 of 32 frames differ)") in validate(root)


def run(cli: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=60)


def test_cli_validate(cli: Path, dataset: Path, tmp_path: Path) -> None:
    good = run(cli, "validate", str(dataset))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout == (f"{dataset}: valid LeRobot v2.0 dataset: 3 episodes, {sum(LENGTHS)} frames, 4 tasks, "
                           "6 videos at 20 fps\n")

    root = tmp_path / "corrupt"
    shutil.copytree(dataset, root)
    (root / f"videos/chunk-000/{VIDEO}/episode_000002.mp4").unlink()
    bad = run(cli, "validate", str(root))
    assert bad.returncode == 1
    assert f"videos/chunk-000/{VIDEO}/episode_000002.mp4: missing" in bad.stdout.splitlines()
    assert "meta/info.json: total_videos: 6: the files say 5" in bad.stdout.splitlines()

    missing = run(cli, "validate", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr == f"dreamgen: error: {tmp_path / 'nowhere'}: no such dataset directory\n"
