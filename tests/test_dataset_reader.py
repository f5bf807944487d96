"""DatasetReader: a dataset written by DatasetWriter reads back exactly (metadata, arrays, frames);
damaged or foreign directories are refused with the file named."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from test_dataset_writer import LENGTHS, RAW_VIDEO, SPEC, TASKS, VIDEO, build_dataset, make_episode, native_frame

from dreamgen_core.dataset import DatasetError
from dreamgen_core.dataset.reader import DatasetReader
from dreamgen_core.video import ModelViewTransform


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("reader") / "gr1_real")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / mse))


def test_metadata(dataset: Path) -> None:
    reader = DatasetReader(dataset)
    assert reader.fps == 20.0 and reader.embodiment == "gr1" and reader.embodiment_hash == SPEC.content_hash
    assert reader.tasks == [TASKS[0], "valid", TASKS[1], "invalid"]  # one annotation table, first-use order
    assert reader.video_keys == [VIDEO, RAW_VIDEO] and reader.model_view_key == VIDEO
    assert set(reader.stats) >= {"observation.state", "action"} and len(reader.stats["action"]["mean"]) == SPEC.dim
    assert [e.length for e in reader.episodes] == list(LENGTHS)
    assert [e.task for e in reader.episodes] == [TASKS[0], TASKS[1], TASKS[0]]
    assert [e.success for e in reader.episodes] == [True, False, True]
    assert [e.provenance["source_bag"] for e in reader.episodes] == [f"episode_{k}.mcap" for k in range(3)]
    assert [e.provenance["origin"] for e in reader.episodes] == ["real"] * 3


def test_arrays_equal_what_was_written(dataset: Path) -> None:
    reader = DatasetReader(dataset)
    for k, n in enumerate(LENGTHS):
        arrays, written = reader.arrays(k), make_episode(k)
        assert arrays.state.dtype == np.float32 and arrays.action.dtype == np.float32
        assert arrays.timestamps.dtype == np.float64 and arrays.state.shape == (n, SPEC.dim)
        np.testing.assert_array_equal(arrays.state, written.state.astype(np.float32))
        np.testing.assert_array_equal(arrays.action, written.action.astype(np.float32))
        np.testing.assert_allclose(arrays.timestamps, np.arange(n) / 20.0, atol=1e-6)


def test_frames_show_what_was_written(dataset: Path) -> None:
    reader = DatasetReader(dataset)
    view = ModelViewTransform.for_camera(SPEC.cameras["ego_view"])
    k, n = 2, LENGTHS[2]
    model = reader.frames(k)
    raw = reader.frames(k, RAW_VIDEO)
    assert model.dtype == np.uint8 and model.shape == (n, 256, 256, 3) and raw.shape == (n, 200, 320, 3)
    assert psnr(model, np.stack([view(native_frame(k, i)) for i in range(n)])) > 30
    assert psnr(raw, np.stack([native_frame(k, i) for i in range(n)])) > 30
    # Another episode's frames differ (frames are not mixed up between episodes).
    assert psnr(reader.frames(0, RAW_VIDEO)[:n], raw[:LENGTHS[0]]) < 25


def test_not_a_dataset_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=f"{tmp_path}.*missing"):
        DatasetReader(tmp_path)
    with pytest.raises(DatasetError, match="no such dataset directory"):
        DatasetReader(tmp_path / "nowhere")


def test_bad_requests_are_refused(dataset: Path) -> None:
    reader = DatasetReader(dataset)
    with pytest.raises(DatasetError, match="episode 3: the dataset has episodes 0..2"):
        reader.arrays(3)
    with pytest.raises(DatasetError, match="'observation.images.nope': not a video feature"):
        reader.frames(0, "observation.images.nope")


def test_damaged_files_are_named(dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    parquet = copy / "data/chunk-000/episode_000001.parquet"
    pq.write_table(pq.read_table(parquet).slice(0, 5), parquet)
    video = copy / f"videos/chunk-000/{VIDEO}/episode_000000.mp4"
    video.unlink()
    reader = DatasetReader(copy)
    with pytest.raises(DatasetError, match=r"episode_000001\.parquet: 5 rows: .* length 32"):
        reader.arrays(1)
    with pytest.raises(DatasetError, match=r"episode_000000\.mp4: missing"):
        reader.frames(0)
    (copy / "meta/tasks.jsonl").write_text('{"task_index": 1, "task": "x"}\n')
    with pytest.raises(DatasetError, match=r"tasks\.jsonl: line 1"):
        DatasetReader(copy)
