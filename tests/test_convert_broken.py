"""A corpus of broken episode bags: each gets its own one-line error; good ones still convert.

Broken bags are derived from a real sim-recorded episode: bytes damaged in place, or messages
rewritten through the recorder's own bag writer (a real MCAP that rosbags and mcap read).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from rosbags.highlevel import AnyReader

from dreamgen_core.bag import BagWriter, TopicInfo, find_mcap
from dreamgen_core.bag.schema import typestore
from dreamgen_core.convert import convert_bags
from dreamgen_core.embodiment import load_embodiment

pytestmark = pytest.mark.ros  # the source bag is recorded by the collect stack

Transform = Callable[[str, Any, int], tuple[str, Any] | None]  # (topic, msg, k) -> (msgtype, msg) or drop


def rewrite(src: Path, dst: Path, transform: Transform, rename: dict[str, str] | None = None) -> Path:
    """Copy a bag message by message through `transform` (and topics through `rename`), with the
    original episode metadata."""
    custom = yaml.safe_load((src / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["custom_data"]
    store = typestore()
    with AnyReader([src]) as reader:
        messages = []
        for conn, log_ns, raw in reader.messages():
            out = transform(conn.topic, reader.deserialize(raw, conn.msgtype), len(messages))
            if out is not None:
                topic = (rename or {}).get(conn.topic, conn.topic)
                messages.append((topic, out[0], log_ns, store.serialize_cdr(out[1], out[0])))
    topics = list(dict.fromkeys((topic, msgtype) for topic, msgtype, _, _ in messages))
    writer = BagWriter(dst, dst.name, [TopicInfo(t, m) for t, m in topics], episode=custom)
    for topic, msgtype, log_ns, data in messages:
        writer.write(topics.index((topic, msgtype)), log_ns, bytes(data))
    writer.close(custom)
    return dst


def keep(topic: str, msg: Any, k: int) -> tuple[str, Any]:
    return type(msg).__msgtype__, msg


def teleop_silent(bag: Path) -> Transform:
    """Drop 0.7 s of teleop commands mid-episode: a gap, shorter than a clock jump (1 s)."""
    with AnyReader([bag]) as reader:
        conn = next(c for c in reader.connections if c.topic == "/teleop/joint_command")
        stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
                  for m in (reader.deserialize(raw, conn.msgtype) for _, _, raw in reader.messages([conn]))]
    middle = (stamps[0] + stamps[-1]) / 2

    def drop(topic: str, msg: Any, k: int):
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 if topic == "/teleop/joint_command" else None
        return None if t is not None and abs(t - middle) < 0.35 else keep(topic, msg, k)
    return drop


def without_camera(topic: str, msg: Any, k: int):
    return None if topic == "/camera/ego_view/image_raw" else keep(topic, msg, k)


def renamed_joint(topic: str, msg: Any, k: int):
    if topic == "/joint_states":
        msg.name = ["left_elbow_joint" if n == "left_elbow_pitch_joint" else n for n in msg.name]
    return keep(topic, msg, k)


def camera_as_string(topic: str, msg: Any, k: int):
    if topic == "/camera/ego_view/image_raw":
        string = typestore().types["std_msgs/msg/String"]
        return "std_msgs/msg/String", string(data="not an image")
    return keep(topic, msg, k)


def on_nth(topic: str, n: int, change: Callable[[Any], None], every_after: bool = False) -> Transform:
    """Apply `change` to the n-th message of `topic` (or to it and every later one)."""
    seen = [0]

    def transform(t: str, msg: Any, k: int):
        if t == topic:
            if seen[0] == n or (every_after and seen[0] > n):
                change(msg)
            seen[0] += 1
        return keep(t, msg, k)
    return transform


def nan_position(msg: Any) -> None:
    msg.position = msg.position.copy()
    msg.position[3] = float("nan")


def short_buffer(msg: Any) -> None:
    msg.data = msg.data[: len(msg.data) // 2]


def half_resolution(msg: Any) -> None:
    msg.data = msg.data.reshape(msg.height, msg.step)[::2, : msg.width * 3].reshape(
        msg.height // 2, msg.width, 3)[:, ::2].reshape(-1).copy()
    msg.height, msg.width, msg.step = msg.height // 2, msg.width // 2, msg.width // 2 * 3


def first_seconds(bag: Path, seconds: float) -> Transform:
    """Keep only the messages stamped in the first `seconds` of the camera: a too-short episode."""
    with AnyReader([bag]) as reader:
        conn = next(c for c in reader.connections if c.topic == "/camera/ego_view/image_raw")
        first = next(reader.deserialize(raw, conn.msgtype) for _, _, raw in reader.messages([conn])).header.stamp
    end = first.sec + first.nanosec * 1e-9 + seconds

    def cut(topic: str, msg: Any, k: int):
        return keep(topic, msg, k) if msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 <= end else None
    return cut


def stamps_mover(shift_s: Callable[[int], float]) -> Transform:
    def move(topic: str, msg: Any, k: int):
        if topic == "/joint_states":
            ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec + int(shift_s(k) * 1e9)
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 10**9)
        return keep(topic, msg, k)
    return move


def damage(bag: Path, dst: Path, how: str) -> Path:
    shutil.copytree(bag, dst)
    mcap = find_mcap(dst)
    data = bytearray(mcap.read_bytes())
    if how == "truncate":
        mcap.write_bytes(data[: len(data) * 6 // 10])
    else:  # zero 256 KiB in the middle: chunk records fail their CRC or their framing
        middle = len(data) // 2
        data[middle: middle + 256 * 1024] = bytes(256 * 1024)
        mcap.write_bytes(bytes(data))
    return dst


CASES = [
    ("truncated", lambda b, d: damage(b, d, "truncate"), "not a readable MCAP file"),
    ("zeroed chunk", lambda b, d: damage(b, d, "zero"), "corrupt"),
    ("missing camera", lambda b, d: rewrite(b, d, without_camera), "missing topic /camera/ego_view/image_raw"),
    ("wrong type", lambda b, d: rewrite(b, d, camera_as_string),
     "topic /camera/ego_view/image_raw has type std_msgs/msg/String, expected sensor_msgs/msg/Image"),
    ("renamed joint", lambda b, d: rewrite(b, d, renamed_joint),
     "unknown joint names on /joint_states: ['left_elbow_joint']"),
    ("reversed stamps", lambda b, d: rewrite(b, d, stamps_mover(lambda k: -0.004 * k)),
     "non-monotonic header stamps on /joint_states"),
    ("clock jump", lambda b, d: rewrite(b, d, stamps_mover(lambda k: 5.0 if k > 300 else 0.0)),
     "clock jump on /joint_states"),
    ("teleop gap", lambda b, d: rewrite(b, d, teleop_silent(b)), "gap: no /teleop/joint_command sample within 250 ms"),
    # hostile inputs: each once aborted the run, converted silently or said something unhelpful
    ("non-finite joint state", lambda b, d: rewrite(b, d, on_nth("/joint_states", 40, nan_position)),
     "non-finite joint position on /joint_states: message 40, left_elbow_pitch_joint = nan (1 joints affected)"),
    ("short image buffer", lambda b, d: rewrite(b, d, on_nth("/camera/ego_view/image_raw", 12, short_buffer)),
     ("/camera/ego_view/image_raw message 12: short image buffer: 320x200 rgb8 with step 960 needs 192000 bytes "
     "(step >= 960), found 96000")),
    ("resolution change", lambda b, d: rewrite(b, d, on_nth("/camera/ego_view/image_raw", 30, half_resolution, True)),
     "camera /camera/ego_view/image_raw changes resolution mid-episode: message 30 is 160x100, message 0 was 320x200"),
    ("too short", lambda b, d: rewrite(b, d, first_seconds(b, 0.3)), "too short: the sources overlap for "),
]


@pytest.fixture(scope="module")
def good_bag(sim_episodes) -> Path:
    episodes, _ = sim_episodes
    return min(p for p in episodes.iterdir() if (p / "metadata.yaml").is_file())


@pytest.fixture(scope="module")
def corpus(good_bag: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("broken")
    return {name: make(good_bag, root / name.replace(" ", "_")) for name, make, _ in CASES}


def test_the_rewriter_alone_breaks_nothing(good_bag: Path, ci_convert_config, tmp_path: Path) -> None:
    copy = rewrite(good_bag, tmp_path / "copy", keep)
    results = convert_bags([copy], tmp_path / "ds", load_embodiment("gr1"), ci_convert_config, progress=False)
    assert [r.status for r in results] == ["converted"], results[0].message


@pytest.mark.parametrize(("name", "expected"), [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_each_broken_bag_gets_its_specific_error(corpus: dict[str, Path], name: str, expected: str,
                                                 ci_convert_config, tmp_path: Path) -> None:
    results = convert_bags([corpus[name]], tmp_path / "ds", load_embodiment("gr1"), ci_convert_config,
                           progress=False)
    assert len(results) == 1 and results[0].status == "rejected"
    message = results[0].message
    assert message.startswith(f"{corpus[name].name}: ") and expected in message, message
    assert "\n" not in message
    assert not (tmp_path / "ds").exists(), "no partial dataset may be left behind"
    assert not list(tmp_path.glob(".ds*")), "no build or lock files may be left behind"


def test_good_bags_convert_beside_broken_ones(good_bag: Path, corpus: dict[str, Path], ci_convert_config,
                                              tmp_path: Path) -> None:
    results = convert_bags([good_bag, *corpus.values()], tmp_path / "ds", load_embodiment("gr1"),
                           ci_convert_config, workers=2, progress=False)
    assert [r.status for r in results] == ["converted"] + ["rejected"] * len(CASES)
    assert (tmp_path / "ds" / "meta" / "info.json").is_file()


def test_a_bare_mcap_is_reported_with_what_to_do(good_bag: Path, ci_convert_config, tmp_path: Path) -> None:
    """A directory holding an .mcap but no metadata.yaml is no finished episode: said so, not skipped in silence."""
    bare = tmp_path / "episodes" / "bare"
    bare.mkdir(parents=True)
    shutil.copy(find_mcap(good_bag), bare)
    shutil.copytree(good_bag, tmp_path / "episodes" / "good")
    results = convert_bags([tmp_path / "episodes"], tmp_path / "ds", load_embodiment("gr1"), ci_convert_config,
                           progress=False)
    assert sorted((r.bag.name, r.status) for r in results) == [("bare", "rejected"), ("good", "converted")]
    message = next(r.message for r in results if r.bag.name == "bare")
    assert message == (f"bare: an .mcap file without metadata.yaml: not a finished rosbag2 episode; if a recorder "
                       f"was killed while writing it, rename it to bare.partial and run `dreamgen bag recover "
                       f"{bare}.partial`, otherwise it is not an episode bag")
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    (result,) = convert_bags([empty], tmp_path / "ds2", load_embodiment("gr1"), ci_convert_config, progress=False)
    assert (result.status, result.message) == ("rejected", (f"{empty}: no episode bags in it (a bag is a directory "
                                                           "with metadata.yaml and an .mcap file)"))
