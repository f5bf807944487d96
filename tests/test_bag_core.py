"""Episode bags without ROS: written from raw CDR by BagWriter, read back by rosbags and by mcap,
salvaged after an unclosed (killed) writer or a torn file, and refused clearly when damaged."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader

from dreamgen_core.bag import BagError, BagWriter, TopicInfo, header_stamp_ns, read_info
from dreamgen_core.bag.schema import typestore
from dreamgen_core.recording import RecordingConfig, TopicConfig, recover_episode
from dreamgen_core.recording.episode import Recorder
from dreamgen_core.recording.provenance import episode_calibration_hash
from dreamgen_core.recording.qos import Durability, Offer, Reliability

TOPICS = [TopicInfo("/joint_states", "sensor_msgs/msg/JointState"),
          TopicInfo("/camera/ego_view/image_raw", "sensor_msgs/msg/Image")]
NS = 1_000_000_000


def joint_state(stamp_ns: int) -> bytes:
    ts = typestore()
    JointState, Header, Time = (ts.types[t] for t in ("sensor_msgs/msg/JointState", "std_msgs/msg/Header",
                                                      "builtin_interfaces/msg/Time"))
    msg = JointState(Header(Time(stamp_ns // NS, stamp_ns % NS), "base"), ["a", "b"],
                     np.array([1.0, 2.0]), np.array([], dtype=float), np.array([], dtype=float))
    return bytes(ts.serialize_cdr(msg, "sensor_msgs/msg/JointState"))


def image(stamp_ns: int, width: int = 32, height: int = 20) -> bytes:
    ts = typestore()
    Image, Header, Time = (ts.types[t] for t in ("sensor_msgs/msg/Image", "std_msgs/msg/Header",
                                                 "builtin_interfaces/msg/Time"))
    data = np.full(width * height * 3, stamp_ns % 251, dtype=np.uint8)
    msg = Image(Header(Time(stamp_ns // NS, stamp_ns % NS), "cam"), height, width, "rgb8", 0, width * 3, data)
    return bytes(ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def write_some(writer: BagWriter, start_ns: int, n: int) -> None:
    for k in range(n):
        t = start_ns + k * NS // 100
        writer.write(0, t, joint_state(t))
        if k % 3 == 0:
            writer.write(1, t, image(t))


def test_header_stamp_read_from_cdr_bytes() -> None:
    assert header_stamp_ns(joint_state(12 * NS + 345)) == 12 * NS + 345
    assert header_stamp_ns(b"\x00\x01\x00") is None


def test_bag_round_trip_rosbags_and_mcap(tmp_path: Path) -> None:
    bag = tmp_path / "ep"
    writer = BagWriter(bag, "ep", TOPICS, "zstd", {"instruction": "pick"})
    write_some(writer, 1_700_000_000 * NS, 90)
    writer.close({"instruction": "pick", "outcome": "success"})

    with AnyReader([bag]) as reader:
        stamps = [reader.deserialize(raw, c.msgtype).header.stamp
                  for c, _, raw in reader.messages([c for c in reader.connections if c.topic == "/joint_states"])]
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts == {"/joint_states": 90, "/camera/ego_view/image_raw": 30}
    assert stamps[0].sec == 1_700_000_000 and stamps[1].nanosec == NS // 100  # header stamps untouched

    with open(bag / "ep_0.mcap", "rb") as f:
        mcap = make_reader(f)
        assert mcap.get_header().profile == "ros2"
        msgs = list(mcap.iter_messages())
        meta = {m.name: m.metadata for m in mcap.iter_metadata()}
    log_times = [m.log_time for _, _, m in msgs]
    assert len(msgs) == 120 and log_times == sorted(log_times)
    assert meta["dreamgen_episode"]["instruction"] == "pick" and meta["dreamgen_result"]["outcome"] == "success"
    info = read_info(bag)
    assert {t.name: t.count for t in info.topics} == counts
    assert info.custom_data["outcome"] == "success" and info.duration_s == pytest.approx(0.89)


def recorder(tmp_path: Path, **overrides: object) -> Recorder:
    topics = tuple(TopicConfig(t.name, t.msgtype, 100 if i == 0 else 33.3, required=True) for i, t in enumerate(TOPICS))
    cfg = RecordingConfig(output_dir=str(tmp_path / "episodes"), calibration_dir=str(tmp_path / "calib"),
                          topics=topics, **overrides)  # type: ignore[arg-type]
    return Recorder(cfg, "gr1", "abc123")


BATCH = {"/joint_states": 50, "/camera/ego_view/image_raw": 17}  # what write_some(..., 50) writes


def record_unclosed(tmp_path: Path, batches: int = 3) -> Path:
    """An episode flushed after each of `batches` batches, then one more batch lost with the process:
    what a SIGKILL leaves behind."""
    rec = recorder(tmp_path)
    rec.graph(0, (Offer("/driver", Reliability.RELIABLE, Durability.VOLATILE, depth=10),), None)
    t0 = 1_700_000_000 * NS
    for k in range(2):
        rec.observe(k, t0, t0, b"")
    name = rec.start("pick the apple", "ana", t0, t0)
    writer = rec.episode.writer.writer
    for b in range(batches + 1):
        write_some(writer, t0 + b * NS // 2, 50)
        if b < batches:
            writer.flush()
    partial = rec.output_dir / f"{name}.partial"
    copy = tmp_path / "killed" / partial.name
    shutil.copytree(partial, copy)
    rec.discard()
    rec.wait_closed()
    return copy


def test_recover_unclosed_episode(tmp_path: Path, cli: Path) -> None:
    partial = record_unclosed(tmp_path)
    with pytest.raises(BagError, match="never closed.*dreamgen bag recover"):
        read_info(partial)
    out = subprocess.run([str(cli), "bag", "recover", str(partial.parent)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    final = partial.parent / partial.name.removesuffix(".partial")
    assert not partial.exists() and final.is_dir()
    info = read_info(final)
    assert {t.name: t.count for t in info.topics} == {k: 3 * v for k, v in BATCH.items()}
    assert info.custom_data["outcome"] == "recovered" and info.custom_data["instruction"] == "pick the apple"
    assert info.custom_data["calibration_hash"] == "missing" and info.custom_data["embodiment_hash"] == "abc123"
    assert json.loads(info.custom_data["qa"])["/joint_states"]["count"] == 150
    with AnyReader([final]) as reader:
        assert sum(1 for _ in reader.messages()) == 3 * sum(BATCH.values())
        offered = {c.topic: [(q.reliability.name, q.depth) for q in c.ext.offered_qos_profiles]
                   for c in reader.connections}
    assert offered == {"/joint_states": [("RELIABLE", 10)], "/camera/ego_view/image_raw": []}  # kept from the partial


def test_recover_torn_chunk_keeps_complete_chunks(tmp_path: Path) -> None:
    partial = record_unclosed(tmp_path)
    mcap_file = next(partial.glob("*.mcap"))
    data = mcap_file.read_bytes()
    mcap_file.write_bytes(data[: len(data) - 20_000])  # tears the third chunk (about 40 kB)
    result = recover_episode(partial)
    assert result.counts == {k: 2 * v for k, v in BATCH.items()}
    assert result.stopped  # says where the scan ended
    with open(next(result.path.glob("*.mcap")), "rb") as f:
        assert sum(1 for _ in make_reader(f).iter_messages()) == 2 * sum(BATCH.values())


def test_damaged_files_give_clear_errors(tmp_path: Path, cli: Path) -> None:
    bag = tmp_path / "ep"
    writer = BagWriter(bag, "ep", TOPICS, "none", {"instruction": "x"})
    write_some(writer, NS, 10)
    writer.close({"outcome": "success"})
    mcap_file = bag / "ep_0.mcap"
    whole = mcap_file.read_bytes()
    mcap_file.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BagError, match="ep_0.mcap.*recover"):
        read_info(bag)
    mcap_file.write_bytes(bytes(len(whole)))
    out = subprocess.run([str(cli), "bag", "info", str(bag)], capture_output=True, text=True)
    assert out.returncode == 2 and "ep_0.mcap" in out.stderr and "not a readable MCAP" in out.stderr, out.stderr
    zeroed = tmp_path / "z.partial"
    shutil.copytree(bag, zeroed)
    out = subprocess.run([str(cli), "bag", "recover", str(zeroed)], capture_output=True, text=True)
    assert out.returncode == 2 and "ep_0.mcap: nothing recoverable" in out.stderr, out.stderr


def test_episode_calibration_hash_marks_a_missing_directory(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cam.yaml").write_text("a: 1\n")
    first = episode_calibration_hash(tmp_path / "c")
    assert len(first) == 64
    (tmp_path / "c" / "cam.yaml").write_text("a: 2\n")
    assert episode_calibration_hash(tmp_path / "c") != first
    assert episode_calibration_hash(tmp_path / "nope") == "missing"
