"""DatasetWriter: a 3-episode dataset read back with pyarrow and PyAV, append idempotency, crash safety.

The episode builders here are imported by the other test_dataset_* modules (tests/ is on sys.path).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreamgen_core.atomic import AtomicDirError
from dreamgen_core.dataset import DatasetError, DatasetWriter, EpisodeData, validate
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.video import ModelViewTransform, decode_video

SPEC = load_embodiment("gr1")
FPS = 20
LENGTHS = (30, 32, 28)
TASKS = ("Use the left hand to pick the pear from the counter to the plate.",
         "Use the right hand to pick the cup from the table to the shelf.")
VIDEO = "observation.images.ego_view"
RAW_VIDEO = "observation.images.egoview"
RAW = (200, 320)  # the raw camera video at the frames' own size (height, width)


def native_frame(episode: int, i: int) -> np.ndarray:
    """A 320x200 frame: smooth gradients whose brightness steps with the frame index (so order is visible)."""
    rows, cols = np.mgrid[0:200, 0:320].astype(np.float32)
    base = 20 + 5 * i
    return np.stack([base + 60 * rows / 200, base + 60 * cols / 320, np.full_like(rows, 60 + 50 * episode)],
                    axis=-1).astype(np.uint8)


def make_episode(k: int, length: int | None = None, source_key: str | None = None, frames=None) -> EpisodeData:
    n = LENGTHS[k % len(LENGTHS)] if length is None else length
    rng = np.random.default_rng(k)
    state = rng.normal(0, 0.5, (n, SPEC.dim)).astype(np.float32)
    state[:, 13:22] = 0  # legs and neck: unused slots stay zero
    stamps = 1_700_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 50_000_000
    extras = {"observation.capture_stamp.joint_states": stamps,
              "observation.age_s.ego_view": rng.uniform(0, 0.03, n).astype(np.float32)}
    return EpisodeData(
        state=state, action=(state + rng.normal(0, 0.01, state.shape)).astype(np.float32),
        frames={"ego_view": frames if frames is not None else (native_frame(k, i) for i in range(n))},
        task=TASKS[k % 2], source_key=source_key or f"sha256:bag{k}", success=k != 1,
        provenance={"origin": "real", "source_bag": f"episode_{k}.mcap"},
        validity="valid" if k != 1 else "invalid", extra_columns=extras)


def build_dataset(root: Path, count: int = 3) -> Path:
    with DatasetWriter(root, SPEC, raw_size=RAW) as writer:
        for k in range(count):
            writer.add(make_episode(k))
    return root


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("ds") / "gr1_real")


def meta(root: Path, name: str):
    text = (root / "meta" / name).read_text()
    return [json.loads(line) for line in text.splitlines()] if name.endswith(".jsonl") else json.loads(text)


def test_validate_passes(dataset: Path) -> None:
    assert validate(dataset) == []


def test_parquet_rows_read_back(dataset: Path) -> None:
    tasks = {row["task_index"]: row["task"] for row in meta(dataset, "tasks.jsonl")}
    next_index = 0
    for k, n in enumerate(LENGTHS):
        table = pq.read_table(dataset / f"data/chunk-000/episode_{k:06d}.parquet")
        source = make_episode(k)
        assert table.schema.field("observation.state").type == pa.list_(pa.float32())
        assert table.schema.field("timestamp").type == pa.float32()
        assert table.schema.field("next.done").type == pa.bool_()
        col = {name: table.column(name).to_numpy() for name in table.column_names
               if name not in ("observation.state", "action")}
        np.testing.assert_array_equal(np.stack(table.column("observation.state").to_pylist()), source.state)
        np.testing.assert_array_equal(np.stack(table.column("action").to_pylist()), source.action)
        np.testing.assert_array_equal(col["frame_index"], np.arange(n))
        assert (col["timestamp"] == np.float32(np.arange(n) / FPS)).all() and col["timestamp"][0] == 0.0
        np.testing.assert_array_equal(col["index"], next_index + np.arange(n))
        assert (col["episode_index"] == k).all()
        assert {tasks[i] for i in table.column("annotation.human.action.task_description").to_pylist()} == {source.task}
        assert {tasks[i] for i in table.column("annotation.human.validity").to_pylist()} == {source.validity}
        assert (col["task_index"] == table.column("annotation.human.action.task_description").to_numpy()).all()
        assert col["next.done"].tolist() == [False] * (n - 1) + [True]
        assert col["next.reward"].tolist() == [0.0] * (n - 1) + [1.0 if source.success else 0.0]
        for name, values in source.extra_columns.items():
            assert table.schema.field(name).type == pa.from_numpy_dtype(values.dtype)
            np.testing.assert_array_equal(table.column(name).to_numpy(), values)
        next_index += n


@pytest.mark.parametrize("key", [VIDEO, RAW_VIDEO])
def test_videos_match_rows_and_timestamps(dataset: Path, key: str) -> None:
    view = ModelViewTransform.for_camera(SPEC.cameras["ego_view"]) if key == VIDEO else (lambda frame: frame)
    for k, n in enumerate(LENGTHS):
        decoded = decode_video(dataset / f"videos/chunk-000/{key}/episode_{k:06d}.mp4")
        stamps = pq.read_table(dataset / f"data/chunk-000/episode_{k:06d}.parquet").column("timestamp").to_numpy()
        assert len(decoded.frames) == n
        assert (decoded.pts_s.astype(np.float32) == stamps).all()
        expected = np.stack([view(native_frame(k, i)) for i in range(n)]).astype(np.float64)
        mse = np.mean((decoded.frames - expected) ** 2)
        assert 10 * np.log10(255 ** 2 / mse) > 30


def test_meta_files_are_consistent(dataset: Path) -> None:
    info = meta(dataset, "info.json")
    assert {k: info[k] for k in ("codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks",
                                 "total_videos", "total_chunks", "chunks_size", "fps", "splits")} == {
        "codebase_version": "v2.0", "robot_type": SPEC.robot_type, "total_episodes": 3, "total_frames": sum(LENGTHS),
        "total_tasks": 4, "total_videos": 6, "total_chunks": 1, "chunks_size": 1000, "fps": 20,
        "splits": {"train": "0:3"}}
    assert info["data_path"] == "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    assert info["video_path"] == "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
    assert info["features"]["observation.state"]["names"] == list(SPEC.joint_names)
    assert info["features"][VIDEO]["shape"] == [256, 256, 3]
    assert info["features"][RAW_VIDEO]["shape"] == [*RAW, 3]
    assert info["features"][VIDEO]["video_info"] == {
        "video.fps": 20.0, "video.codec": "h264", "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
        "has_audio": False}
    assert info["features"]["observation.capture_stamp.joint_states"] == {"dtype": "int64", "shape": [1], "names": None}
    assert meta(dataset, "modality.json") == SPEC.modality() | {"video": {
        "ego_view": {"original_key": VIDEO}, "egoview": {"original_key": RAW_VIDEO}}}
    assert [r["task"] for r in meta(dataset, "tasks.jsonl")] == [TASKS[0], "valid", TASKS[1], "invalid"]
    assert meta(dataset, "episodes.jsonl") == [
        {"episode_index": k, "tasks": [make_episode(k).task, make_episode(k).validity], "length": n}
        for k, n in enumerate(LENGTHS)]
    provenance = meta(dataset, "provenance.json")
    assert provenance["embodiment"] == {"name": "gr1", "content_hash": SPEC.content_hash}
    assert provenance["raw_videos"] == {RAW_VIDEO: list(RAW)}
    assert [(e["source_key"], e["origin"], e["source_bag"]) for e in provenance["episodes"]] == [
        (f"sha256:bag{k}", "real", f"episode_{k}.mcap") for k in range(3)]


def test_stats_equal_a_numpy_recomputation(dataset: Path) -> None:
    stats = meta(dataset, "stats.json")
    episodes = [make_episode(k) for k in range(3)]
    for name, values in {"observation.state": np.concatenate([e.state for e in episodes]),
                         "action": np.concatenate([e.action for e in episodes]),
                         "timestamp": np.concatenate([np.float32(np.arange(n) / FPS) for n in LENGTHS])[:, None],
                         }.items():
        values = values.astype(np.float64)  # noqa: PLW2901 - the same data, in the dtype stats use
        for stat, fn in {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max,
                         "q01": lambda v, axis: np.quantile(v, 0.01, axis=axis),
                         "q99": lambda v, axis: np.quantile(v, 0.99, axis=axis)}.items():
            np.testing.assert_allclose(stats[name][stat], fn(values, axis=0), rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name}.{stat}")
    assert stats["next.reward"]["max"] == [1.0] and stats["index"]["max"] == [sum(LENGTHS) - 1]


def test_append_skips_known_sources_and_extends(dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    before = tree_digest(root)
    with DatasetWriter(root, SPEC, raw_size=RAW) as writer:
        results = [writer.add(make_episode(k)) for k in range(3)]
    assert [(r.episode_index, r.skipped) for r in results] == [
        (None, f"source already in the dataset as episode {k}") for k in range(3)]
    assert tree_digest(root) == before

    with DatasetWriter(root, SPEC, raw_size=RAW) as writer:
        added = writer.add(make_episode(3, length=25))
        again = writer.add(make_episode(3, length=25))
    assert (added.episode_index, again.episode_index) == (3, None)
    assert validate(root) == []
    after = tree_digest(root)
    new_files = ("data/chunk-000/episode_000003.parquet", f"videos/chunk-000/{VIDEO}/episode_000003.mp4",
                 f"videos/chunk-000/{RAW_VIDEO}/episode_000003.mp4")
    assert {k: v for k, v in after.items() if not k.startswith("meta/")} == \
        {k: v for k, v in before.items() if not k.startswith("meta/")} | {k: after[k] for k in new_files}
    index = pq.read_table(root / "data/chunk-000/episode_000003.parquet").column("index").to_pylist()
    assert index == list(range(sum(LENGTHS), sum(LENGTHS) + 25))
    assert meta(root, "info.json")["total_episodes"] == 4


def exploding_frames(after: int):
    for i in range(after):
        yield native_frame(0, i)
    raise OSError("camera stream ended mid-episode")


def test_crash_mid_build_leaves_target_untouched(dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    before = tree_digest(root)
    with pytest.raises(OSError, match="camera stream ended"), DatasetWriter(root, SPEC, raw_size=RAW) as writer:
        writer.add(make_episode(7))
        writer.add(make_episode(8, frames=exploding_frames(5)))
    assert tree_digest(root) == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["copy"]

    fresh = tmp_path / "fresh"
    with pytest.raises(OSError), DatasetWriter(fresh, SPEC, raw_size=RAW) as writer:
        writer.add(make_episode(8, frames=exploding_frames(5)))
    assert not fresh.exists()


def test_failed_episode_is_removed_and_the_build_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with DatasetWriter(root, SPEC, raw_size=RAW) as writer:
        with pytest.raises(DatasetError, match=r"frames.ego_view: 29 frames, expected 30 \(one per state row\)"):
            writer.add(make_episode(0, length=30, frames=(native_frame(0, i) for i in range(29))))
        with pytest.raises(DatasetError, match=r"frames.ego_view: more frames than the 30 state rows"):
            writer.add(make_episode(0, length=30, frames=(native_frame(0, i) for i in range(31))))
        assert not [p for p in root.parent.glob(".ds.build/**/*") if p.is_file()]  # nothing of them is left
        assert writer.add(make_episode(1)).episode_index == 0
    assert validate(root) == [] and meta(root, "info.json")["total_episodes"] == 1


@pytest.mark.parametrize("change,message", [
    (lambda e: setattr(e, "state", e.state[:, :43]),
     r"'sha256:bag0': state: float32 \[30, 43\]: expected float \[N, 44\]"),
    (lambda e: e.action.__setitem__((4, 2), np.nan), r"action\[4\]: non-finite value"),
    (lambda e: setattr(e, "provenance", {}), r"provenance.origin: None: must be one of \('real', 'dreamed'\)"),
    (lambda e: e.extra_columns.update(extra=np.zeros(3)),
     r"extra_columns.extra: float64 \[3\]: expected one number per frame"),
    (lambda e: setattr(e, "frames", {"wrist": []}), r"frames: \['wrist'\]: expected camera keys \['ego_view'\]"),
])
def test_bad_episodes_are_refused_by_name(tmp_path: Path, change, message: str) -> None:
    episode = make_episode(0)
    change(episode)
    with DatasetWriter(tmp_path / "ds", SPEC, raw_size=RAW) as writer, pytest.raises(DatasetError, match=message):
        writer.add(episode)


def test_append_with_another_raw_size_is_refused(dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    with pytest.raises(DatasetError, match=r"info.json: features: videos .*'observation.images.egoview': \[200, 320\]"
                                           r".*appending would write .*'observation.images.egoview': \[100, 160\]"):
        DatasetWriter(root, SPEC, raw_size=(100, 160)).open()


@pytest.mark.parametrize("raw_size,message", [
    ("native", (r"frames.ego_view: frame 320x200 is smaller than the raw video observation.images.egoview "
                r"\(1280x800\): refusing to upscale")),
    ((200, 300), r"raw video size 300x200: camera ego_view is 1280x800; the raw video keeps its aspect ratio"),
])
def test_raw_video_is_never_upscaled_nor_distorted(tmp_path: Path, raw_size, message: str) -> None:
    with pytest.raises(DatasetError, match=message), DatasetWriter(tmp_path / "ds", SPEC, raw_size=raw_size) as writer:
        writer.add(make_episode(0))
    assert not (tmp_path / "ds").exists()


def test_append_with_another_embodiment_is_refused(dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    with pytest.raises(DatasetError, match=r"embodiment.content_hash: .* another embodiment spec than ur5e"):
        DatasetWriter(root, load_embodiment("ur5e_2f85")).open()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["copy"]


def test_interrupted_swap_is_recovered_and_writers_exclude_each_other(dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    before = tree_digest(root)
    root.rename(tmp_path / ".copy.previous")  # a crash between the two renames of a swap
    with DatasetWriter(root, SPEC, raw_size=RAW) as writer:
        with pytest.raises(AtomicDirError, match=r"copy: another process is building it: pid \d+"):
            DatasetWriter(root, SPEC, raw_size=RAW).open()
        assert writer.add(make_episode(0)).skipped
    assert tree_digest(root) == before
