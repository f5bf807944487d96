"""A camera published as sensor_msgs/msg/CompressedImage (image_transport's compressed plugin) is
recorded with `camera_transport: compressed`, QA'd by header stamp like a raw camera, and converted
into the same dataset as a raw camera would be.

The episode is recorded by the real recorder node from this process's feeder (joints, commands) and
a driver-like compressed camera: each frame a known colour pattern (left half red, right half blue),
JPEG-encoded per publish as image_transport does it (rgb8 converted to bgr8, then OpenCV). The other
cases are that bag rewritten through the project's bag writer. Videos are read back with PyAV.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import CompressedImage
from test_convert import episode_table
from test_convert_broken import keep, on_nth, rewrite
from test_recorder_node import HEIGHT, WIDTH, Rig, record, start_recorder

from dreamgen_core.bag import read_info
from dreamgen_core.bag.schema import compressed_image_size, typestore
from dreamgen_core.convert import ConvertConfig, convert_bags
from dreamgen_core.dataset import validate
from dreamgen_core.embodiment import load_embodiment

pytestmark = pytest.mark.ros

SPEC = load_embodiment("gr1")
CAMERA = SPEC.cameras["ego_view"]
RAW_KEY = "observation.images.egoview"
CONVERT = ConvertConfig(include_flagged=True, raw_size=(HEIGHT, WIDTH))
RED, BLUE = (255, 0, 0), (0, 0, 255)


def pattern() -> np.ndarray:
    """The known-colour frame, RGB: left half red, right half blue."""
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    frame[:, : WIDTH // 2], frame[:, WIDTH // 2:] = RED, BLUE
    return frame


class CompressedCamera:
    """A driver publishing through image_transport's compressed plugin: SensorDataQoS, 30 Hz, every
    frame encoded at publish time, format "rgb8; jpeg compressed bgr8"."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.pub = node.create_publisher(CompressedImage, CAMERA.compressed_topic, qos_profile_sensor_data)
        self.timer = node.create_timer(1 / 30, self.publish)

    def publish(self) -> None:
        _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(pattern(), cv2.COLOR_RGB2BGR))
        msg = CompressedImage(format="rgb8; jpeg compressed bgr8", data=jpeg.tobytes())
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(time.time_ns(), 1_000_000_000)
        self.pub.publish(msg)

    def close(self) -> None:
        self.node.destroy_timer(self.timer)
        self.node.destroy_publisher(self.pub)


RECORDED = ("/joint_states", CAMERA.compressed_topic, "/teleop/joint_command", "/gr1/joint_command")


@pytest.fixture(scope="module")
def recorded(ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """(episode bag, stop response) of a 2 s episode recorded with `camera_transport: compressed`."""
    rig = Rig(ros_env)
    camera = CompressedCamera(rig.node)
    proc, out = start_recorder(tmp_path_factory.mktemp("compressed"), ros_env, "recorder_compressed",
                               camera_transport="compressed")
    try:
        rig.watch_status("recorder_compressed")
        deadline = time.monotonic() + 20
        while not all((rig.status.get("recorder_compressed", {}).get("topics", {}).get(t, {}).get("age_s") or 9) < 0.5
                      for t in RECORDED):
            assert time.monotonic() < deadline, rig.status.get("recorder_compressed")
            time.sleep(0.1)
        bag, stop, _ = record(rig, "recorder_compressed", out, 2.0)
    finally:
        assert proc.stop() == 0
        camera.close()
        rig.close()
    yield bag, stop


def test_recorded_as_compressed_image_with_qa_by_header_stamp(recorded: tuple[Path, dict]) -> None:
    bag, stop = recorded
    with AnyReader([bag]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert CAMERA.topic not in types
        assert types[CAMERA.compressed_topic] == "sensor_msgs/msg/CompressedImage"
        conn = next(c for c in reader.connections if c.topic == CAMERA.compressed_topic)
        raw = next(raw for _, _, raw in reader.messages([conn]))
        msg = reader.deserialize(raw, conn.msgtype)
    assert msg.format == "rgb8; jpeg compressed bgr8" and bytes(msg.data[:2]) == b"\xff\xd8"
    assert compressed_image_size(raw) == (WIDTH, HEIGHT)  # what QA can read without decoding
    assert not [r for r in stop["reasons"] if r.startswith(CAMERA.compressed_topic)], stop["reasons"]
    qa = json.loads(read_info(bag).custom_data["qa"])[CAMERA.compressed_topic]
    assert qa["rate_hz"] == pytest.approx(30, rel=0.2) and qa["max_gap_s"] < 0.2, qa


def video_pixels(root: Path, index: int) -> np.ndarray:
    """The raw camera video's frames as RGB, decoded by PyAV."""
    path = root / "videos" / "chunk-000" / RAW_KEY / f"episode_{index:06d}.mp4"
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def assert_red_left_blue_right(frames: np.ndarray) -> None:
    left, right = frames[:, HEIGHT // 2, WIDTH // 4].astype(int), frames[:, HEIGHT // 2, 3 * WIDTH // 4].astype(int)
    assert np.abs(left - RED).max() < 40, f"left half should be red, found {left[0]}"
    assert np.abs(right - BLUE).max() < 40, f"right half should be blue, found {right[0]}"


def test_converts_and_validates_in_true_colour(recorded: tuple[Path, dict], tmp_path: Path) -> None:
    bag, _ = recorded
    results = convert_bags([bag], tmp_path / "ds", SPEC, CONVERT, progress=False)
    assert [r.status for r in results] == ["converted"], [r.message for r in results]
    assert validate(tmp_path / "ds") == []
    assert_red_left_blue_right(video_pixels(tmp_path / "ds", 0))


def with_camera(change: Any) -> Any:
    """Transform for `rewrite`: every camera message through `change(msg)` -> (msgtype, msg)."""
    def transform(topic: str, msg: Any, k: int):
        return change(msg) if topic == CAMERA.compressed_topic else keep(topic, msg, k)
    return transform


def png_of_rgb(msg: Any) -> tuple[str, Any]:
    """A publisher that hands RGB to the encoder and says so ("compressed rgb8"), in lossless png."""
    _, png = cv2.imencode(".png", pattern())
    msg.format, msg.data = "rgb8; png compressed rgb8", png.reshape(-1)
    return "sensor_msgs/msg/CompressedImage", msg


def as_raw_image(msg: Any) -> tuple[str, Any]:
    """The same frame as a raw rgb8 Image on the camera's raw topic, same header."""
    rgb = cv2.cvtColor(cv2.imdecode(np.asarray(msg.data), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    image = typestore().types["sensor_msgs/msg/Image"]
    return "sensor_msgs/msg/Image", image(header=msg.header, height=HEIGHT, width=WIDTH, encoding="rgb8",
                                         is_bigendian=0, step=WIDTH * 3, data=rgb.reshape(-1))


def test_rgb_order_in_the_format_string_is_honoured(recorded: tuple[Path, dict], tmp_path: Path) -> None:
    bag, _ = recorded
    png = rewrite(bag, tmp_path / "png_rgb8", with_camera(png_of_rgb))
    results = convert_bags([png], tmp_path / "ds", SPEC, CONVERT, progress=False)
    assert [r.status for r in results] == ["converted"], [r.message for r in results]
    assert_red_left_blue_right(video_pixels(tmp_path / "ds", 0))


def test_timeline_is_the_raw_cameras(recorded: tuple[Path, dict], tmp_path: Path) -> None:
    """The same episode with the camera as raw Image converts to the same rows and capture stamps."""
    bag, _ = recorded
    raw = rewrite(bag, tmp_path / "raw", with_camera(as_raw_image), rename={CAMERA.compressed_topic: CAMERA.topic})
    results = convert_bags([bag, raw], tmp_path / "ds", SPEC, CONVERT, progress=False)
    assert [r.status for r in results] == ["converted", "converted"], [r.message for r in results]
    compressed, uncompressed = (episode_table(tmp_path / "ds", r.episode_index) for r in results)
    for column in ("observation.frame_time_ns", "observation.capture_stamp_ns.ego_view", "observation.state",
                   "action"):
        np.testing.assert_array_equal(compressed[column], uncompressed[column], err_msg=column)


def truncated(msg: Any) -> None:
    msg.data = msg.data[: len(msg.data) // 2].copy()


def not_an_image(msg: Any) -> None:
    msg.data = np.frombuffer(b"not a jpeg at all", np.uint8).copy()


def test_a_corrupt_frame_is_named_and_good_bags_still_convert(recorded: tuple[Path, dict], tmp_path: Path) -> None:
    bag, _ = recorded
    # from message 7 on (the converter decodes only the frames it uses, and may skip one)
    cut = rewrite(bag, tmp_path / "cut_jpeg", on_nth(CAMERA.compressed_topic, 7, truncated, every_after=True))
    garbage = rewrite(bag, tmp_path / "garbage", on_nth(CAMERA.compressed_topic, 3, not_an_image))
    bmp = rewrite(bag, tmp_path / "bmp", on_nth(CAMERA.compressed_topic, 0,
                                                          lambda m: setattr(m, "format", "bgr8; bmp compressed")))
    results = convert_bags([bag, cut, garbage, bmp], tmp_path / "ds", SPEC, CONVERT, workers=2,
                           progress=False)
    assert [r.status for r in results] == ["converted", "rejected", "rejected", "rejected"]
    assert re.fullmatch(f"cut_jpeg: {CAMERA.compressed_topic} message [78]: corrupt jpeg data: \\d+ bytes do not decode",
                        results[1].message), results[1].message
    assert results[2].message == (f"garbage: {CAMERA.compressed_topic} message 3: no jpeg header in its 17 data "
                                  f"bytes (format 'rgb8; jpeg compressed bgr8')")
    assert results[3].message.startswith(f"bmp: {CAMERA.compressed_topic} message 0: compressed image format "
                                         f"'bgr8; bmp compressed' is not supported")
    assert validate(tmp_path / "ds") == []
