"""Acceptance: sim-recorded episode bags → a GR00T-LeRobot dataset, checked by independent readers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from rosbags.highlevel import AnyReader

from dreamgen_core.convert import convert_bags
from dreamgen_core.dataset import ClipConfig, export_clips, validate
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.video import ModelViewTransform, decode_video

pytestmark = pytest.mark.ros  # the input bags are recorded by the collect stack


@pytest.fixture(scope="module")
def dataset(sim_episodes, ci_convert_config, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list]:
    episodes, _ = sim_episodes
    bags = sorted(p for p in episodes.iterdir() if (p / "metadata.yaml").is_file())
    root = tmp_path_factory.mktemp("convert") / "dataset"
    results = convert_bags([episodes], root, load_embodiment("gr1"), ci_convert_config, workers=2, progress=False)
    return root, bags, results


def episode_table(root: Path, index: int) -> dict[str, np.ndarray]:
    """Columns of one episode's parquet file, read with pyarrow (list columns as 2-D arrays)."""
    table = pq.read_table(root / "data" / "chunk-000" / f"episode_{index:06d}.parquet")
    return {name: np.array(table.column(name).to_pylist()) for name in table.column_names}


def test_converts_every_bag_and_validates(dataset) -> None:
    root, bags, results = dataset
    assert [r.status for r in results] == ["converted", "converted"], [r.message for r in results]
    assert validate(root) == []
    info = json.loads((root / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v2.0" and info["total_episodes"] == 2 and info["fps"] == 20
    assert json.loads((root / "meta" / "modality.json").read_text()) == load_embodiment("gr1").modality() | {
        "video": {"ego_view": {"original_key": "observation.images.ego_view"},
                  "egoview": {"original_key": "observation.images.egoview"}}}
    assert info["features"]["observation.images.egoview"]["shape"] == [200, 320, 3]  # the sim camera's size
    provenance = json.loads((root / "meta" / "provenance.json").read_text())
    assert {p["source_bag"] for p in provenance["episodes"]} == {str(b.resolve()) for b in bags}
    assert all(p["origin"] == "real" for p in provenance["episodes"])


def test_video_frames_rows_and_timestamps_agree(dataset) -> None:
    root, _, _ = dataset
    for index in range(2):
        table = episode_table(root, index)
        np.testing.assert_array_equal(table["timestamp"], (table["frame_index"] / 20.0).astype(np.float32))
        assert table["timestamp"][0] == 0.0
        video = root / "videos" / "chunk-000" / "observation.images.ego_view" / f"episode_{index:06d}.mp4"
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            pts = [float(f.pts * stream.time_base) for f in container.decode(stream)]
            assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
            assert (stream.width, stream.height) == (256, 256)
        assert len(pts) == len(table["timestamp"])
        np.testing.assert_allclose(pts, table["timestamp"], atol=1e-6)


def joint_messages(bag: Path, topic: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Header stamps and layout vectors of a joint topic, read independently with rosbags."""
    spec = load_embodiment("gr1")
    stamps, vectors = [], []
    with AnyReader([bag]) as reader:
        for conn, _, raw in reader.messages(connections=[c for c in reader.connections if c.topic == topic]):
            msg = reader.deserialize(raw, conn.msgtype)
            stamps.append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
            vectors.append(spec.place(list(msg.name), list(msg.position)).vector)
    return np.array(stamps), vectors


def test_each_row_holds_the_latest_sample_at_or_before_its_frame_time(dataset) -> None:
    root, _bags, results = dataset
    for result in results:
        table = episode_table(root, result.episode_index)
        times = table["observation.frame_time_ns"]
        np.testing.assert_array_equal(np.diff(times), np.full(len(times) - 1, 50_000_000))
        for topic, column, name in (("/joint_states", "observation.state", "joint_states"),
                                    ("/teleop/joint_command", "action", "teleop_command")):
            stamps, vectors = joint_messages(result.bag, topic)
            for t, row, used in zip(times, table[column], table[f"observation.capture_stamp_ns.{name}"]):
                k = int(np.searchsorted(stamps, t, side="right")) - 1  # latest at or before t
                assert stamps[k] == used
                np.testing.assert_allclose(row, vectors[k].astype(np.float32))


@pytest.mark.parametrize("key", ["observation.images.ego_view", "observation.images.egoview"])
def test_video_frame_is_the_chosen_camera_frame(dataset, key: str) -> None:
    """ego_view: the model view of the camera frame chosen for the row; egoview: that frame as recorded."""
    root, _, results = dataset
    spec = load_embodiment("gr1")
    model_view = ModelViewTransform.for_camera(spec.cameras["ego_view"])
    view = model_view if key.endswith("ego_view") else (lambda frame: frame)
    result = results[0]
    table = episode_table(root, result.episode_index)
    row = len(table["timestamp"]) // 2
    wanted = table["observation.capture_stamp_ns.ego_view"][row]
    with AnyReader([result.bag]) as reader:
        conn = next(c for c in reader.connections if c.topic == "/camera/ego_view/image_raw")
        for _, _, raw in reader.messages(connections=[conn]):
            msg = reader.deserialize(raw, conn.msgtype)
            if msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == wanted:
                native = np.asarray(msg.data).reshape(msg.height, msg.width, 3)
                break
    video = root / "videos" / "chunk-000" / key / f"episode_{result.episode_index:06d}.mp4"
    with av.open(str(video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][row]
    error = np.mean((decoded.astype(float) - view(native).astype(float)) ** 2)
    assert 10 * np.log10(255**2 / max(error, 1e-9)) > 30  # PSNR, dB: h264 at crf 20


def test_stats_equal_a_numpy_recomputation(dataset) -> None:
    root, _, _ = dataset
    stats = json.loads((root / "meta" / "stats.json").read_text())
    frames = np.concatenate([episode_table(root, i)["observation.state"] for i in range(2)])
    s = stats["observation.state"]
    np.testing.assert_allclose(s["mean"], frames.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s["std"], frames.std(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(s["min"], frames.min(axis=0))
    np.testing.assert_allclose(s["max"], frames.max(axis=0))
    np.testing.assert_allclose(s["q01"], np.quantile(frames, 0.01, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s["q99"], np.quantile(frames, 0.99, axis=0), rtol=1e-5, atol=1e-6)


def test_converting_the_same_bags_again_adds_nothing(dataset, ci_convert_config) -> None:
    root, bags, _ = dataset
    before = (root / "meta" / "info.json").read_text()
    again = convert_bags(bags, root, load_embodiment("gr1"), ci_convert_config, progress=False)
    assert [r.status for r in again] == ["duplicate", "duplicate"]
    assert (root / "meta" / "info.json").read_text() == before


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_dataset_is_the_same_whatever_the_worker_count(dataset, ci_convert_config, tmp_path: Path) -> None:
    """Episodes are converted in parallel but written in input order: byte-identical datasets."""
    root, bags, _ = dataset
    serial = tmp_path / "serial"
    results = convert_bags(list(reversed(bags)), serial, load_embodiment("gr1"), ci_convert_config, workers=1,
                           progress=False)
    assert [r.bag for r in results] == list(reversed(bags))  # episode order = input order
    parallel = tmp_path / "parallel"
    convert_bags(list(reversed(bags)), parallel, load_embodiment("gr1"), ci_convert_config, workers=3, progress=False)
    assert tree_digest(serial) == tree_digest(parallel)
    assert tree_digest(root) != tree_digest(serial)  # the same bags in another order: another dataset


def test_clips_from_the_raw_camera_have_no_bars(dataset, tmp_path: Path) -> None:
    """Acceptance: a clip frame has camera content in its top and bottom rows; the model view has black bands."""
    root, _, _ = dataset
    report = export_clips(root, tmp_path / "clips", ClipConfig(size_hw=(180, 320), min_frames=16))
    assert report.written and report.framing.crop == (10, 190, 0, 320)
    clip = decode_video(tmp_path / "clips" / "videos" / f"{report.written[0][0]}.mp4").frames
    ego_view = decode_video(root / "videos" / "chunk-000" / "observation.images.ego_view" / "episode_000000.mp4").frames
    assert ego_view[:, :40].mean() < 1 and ego_view[:, -40:].mean() < 1  # black, but for h264 ringing
    for row in (clip[:, 0], clip[:, -1]):
        assert row.mean() > 20, "a clip's edge rows must show the scene, not a bar"


def test_ray_tasks_make_the_same_dataset(dataset, ci_convert_config, tmp_path: Path) -> None:
    """`--ray-address`: the same task function on a Ray cluster (a local one here) gives the same bytes."""
    root, bags, _ = dataset
    results = convert_bags(bags, tmp_path / "ray", load_embodiment("gr1"), ci_convert_config, ray_address="local",
                           progress=False)
    assert [(r.bag, r.status) for r in results] == [(bag, "converted") for bag in bags]
    assert tree_digest(tmp_path / "ray") == tree_digest(root)
