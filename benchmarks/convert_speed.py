"""How fast does `dreamgen convert` turn GR1-resolution episode bags into a dataset?

Builds `--episodes` episode bags (1280x800 rgb8 camera at 30 Hz rendered by the simulated GR1,
44-joint states at 200 Hz, teleop commands at 20 Hz) with the recorder's bag writer, then times,
side by side on the same bags and in one run, for two dataset configurations — `ego_view` alone
(the 256x256 model view) and `ego_view + raw` (the raw camera key written too, at 1280x800):
  ours      convert_bags (episodes in parallel worker threads)                 -> frames/s
  baseline  a straightforward converter: one rosbags read loop, per dataset frame
            decode the latest image, GR00T's recipe as written (crop, resize, pad,
            resize the padded image), encode every video                       -> frames/s
  encode    the h264 encode alone of the same output frames, one process       -> frames/s
and prints ours/baseline and ours/encode. No ROS process is started. Both converters first convert
one bag untimed (imports, decoder tables, codec start-up: a one-off cost of whichever runs first in
this process, not a rate), and both start with the bags in the page cache.

    .venv/bin/python benchmarks/convert_speed.py [--episodes 10] [--seconds 4] [--workers N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader

from dreamgen_core.bag import BagWriter, TopicInfo, find_mcap
from dreamgen_core.bag.schema import typestore
from dreamgen_core.convert import ConvertConfig, convert_bags, default_workers
from dreamgen_core.dataset.videos import transform, video_features
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.sim import robot as sim_robot
from dreamgen_core.video import EncoderConfig, ModelViewTransform, VideoWriter, resize

NS = 1_000_000_000
TOPICS = [TopicInfo("/joint_states", "sensor_msgs/msg/JointState"),
          TopicInfo("/teleop/joint_command", "sensor_msgs/msg/JointState"),
          TopicInfo("/camera/ego_view/image_raw", "sensor_msgs/msg/Image")]
RATES = (200.0, 20.0, 30.0)


def rendered_frames(count: int) -> list[np.ndarray]:
    """Distinct 1280x800 frames of the simulated GR1 moving its right arm."""
    spec = load_embodiment("gr1")
    robot = sim_robot.SimRobot(spec, seed=0)
    camera = robot.renderer(1280, 800)
    frames, targets = [], robot.positions().copy()
    elbow = spec.slot("right_elbow_pitch_joint")
    for k in range(count):
        targets[elbow] = -0.6 * np.sin(k / count * np.pi)
        robot.command_vector(targets)
        robot.step(20)
        frames.append(camera.render().copy())
    return frames


def write_bag(path: Path, frames: list[np.ndarray], seconds: float, spec) -> None:
    store = typestore()
    JointState, Image = store.types["sensor_msgs/msg/JointState"], store.types["sensor_msgs/msg/Image"]
    Header, Time = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    custom = {"instruction": "Use the right hand to push the red cube from the table onto the green target.",
              "embodiment": spec.name, "embodiment_hash": spec.content_hash, "outcome": "success", "qa_verdict": "ok"}
    writer = BagWriter(path, path.name, TOPICS, episode=custom)
    events = sorted((int(k * NS / rate), index) for index, rate in enumerate(RATES)
                    for k in range(int(seconds * rate)))
    names = list(spec.joint_names)
    for n, (t, index) in enumerate(events):
        header = Header(stamp=Time(sec=t // NS, nanosec=t % NS), frame_id="")
        if index < 2:
            msg = JointState(header=header, name=names, position=np.full(len(names), n * 1e-4),
                             velocity=np.zeros(0), effort=np.zeros(0))
        else:
            frame = frames[(t * 30 // NS) % len(frames)]
            msg = Image(header=header, height=800, width=1280, encoding="rgb8", is_bigendian=0, step=1280 * 3,
                        data=frame.reshape(-1))
        writer.write(index, t + 1_000_000, bytes(store.serialize_cdr(msg, TOPICS[index].msgtype)))
    writer.close(custom)


def plain_model_view(view: ModelViewTransform, frame: np.ndarray) -> np.ndarray:
    """The model-view recipe step by step, padding bands included (ours resizes only the crop)."""
    r0, r1, c0, c1 = view.crop_box(*frame.shape[:2])
    middle = resize(frame[r0:r1, c0:c1], view.resize_hw)
    return resize(np.pad(middle, ((view.pad_rows, view.pad_rows), (0, 0), (0, 0))), view.size_hw)


def baseline(bag: Path, out: Path, spec, raw_size) -> int:
    """The straightforward converter: one loop, decode/transform/encode each dataset frame as it comes."""
    features = video_features(spec, raw_size)
    view = ModelViewTransform.for_camera(spec.cameras["ego_view"])
    steps = [transform(spec, f) if f.raw else partial(plain_model_view, view) for f in features]
    fps, frames, latest_image, next_t = spec.rates.dataset_fps, 0, None, None
    videos = [VideoWriter(out.with_suffix(f".{k}.mp4"), fps, f.size_hw, EncoderConfig()) for k, f in enumerate(features)]
    with AnyReader([bag]) as reader:
        for conn, _, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            t = msg.header.stamp.sec * NS + msg.header.stamp.nanosec
            if conn.topic == "/camera/ego_view/image_raw":
                latest_image = msg
            next_t = t if next_t is None else next_t
            while latest_image is not None and t >= next_t:
                image = np.asarray(latest_image.data).reshape(800, 1280, 3)
                for video, step in zip(videos, steps):
                    video.write(step(image))
                frames += 1
                next_t += int(NS / fps)
    for video in videos:
        video.close()
    return frames


def warm(bags: list[Path]) -> None:
    """Read every bag once, so that both converters start with the files in the page cache: the
    first one timed must not pay the disk for the other (10 GR1 episodes are 3.7 GB)."""
    for bag in bags:
        with open(find_mcap(bag), "rb") as f:
            while f.read(8 << 20):
                pass


def compare(name: str, bags: list[Path], frames: list[np.ndarray], work: Path, spec, raw_size, workers: int) -> None:
    convert_bags(bags[:1], work / f"warm_{name}", spec, ConvertConfig(raw_size=raw_size), workers=1, progress=False)
    baseline(bags[0], work / f"warm_baseline_{name}", spec, raw_size)
    warm(bags)
    t = time.perf_counter()
    results = convert_bags(bags, work / f"dataset_{name}", spec, ConvertConfig(raw_size=raw_size), workers=workers,
                           progress=False)
    ours_s = time.perf_counter() - t
    ours_frames = sum(r.frames for r in results)
    assert all(r.status == "converted" for r in results), [r.message for r in results]

    warm(bags)
    t = time.perf_counter()
    base_frames = sum(baseline(bag, work / f"baseline_{name}_{k}", spec, raw_size) for k, bag in enumerate(bags))
    base_s = time.perf_counter() - t

    features = video_features(spec, raw_size)
    outputs = [[transform(spec, f)(frame) for frame in frames] for f in features]
    t = time.perf_counter()
    for k, (feature, small) in enumerate(zip(features, outputs)):
        with VideoWriter(work / f"encode_only_{name}_{k}.mp4", spec.rates.dataset_fps, feature.size_hw,
                         EncoderConfig()) as video:
            for i in range(ours_frames):
                video.write(small[i % len(small)])
    encode_s = time.perf_counter() - t
    ours, base, enc = ours_frames / ours_s, base_frames / base_s, ours_frames / encode_s
    print(f"[{name}]")
    print(f"ours      dreamgen convert, {workers} workers: {ours_frames} frames in {ours_s:.2f} s = {ours:.0f} frames/s")
    print(f"baseline  one loop, decode/transform/encode per frame: {base_frames} frames in {base_s:.2f} s = "
          f"{base:.0f} frames/s")
    print(f"encode    h264 encode alone, one process: {ours_frames} frames in {encode_s:.2f} s = {enc:.0f} frames/s")
    print(f"ratio ours/baseline = {ours / base:.2f}x   ours/encode-only = {ours / enc:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each episode")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="convert's worker threads (default: its own default, one per core)")
    args = parser.parse_args()
    spec = load_embodiment("gr1")
    work = Path(tempfile.mkdtemp(prefix="convert_bench_"))
    try:
        t = time.perf_counter()
        frames = rendered_frames(30)
        bags = []
        for k in range(args.episodes):
            bags.append(work / "bags" / f"episode_{k:02d}")
            write_bag(bags[-1], frames, args.seconds, spec)
        print(f"built {len(bags)} bags of {args.seconds:g} s at 1280x800 in {time.perf_counter() - t:.1f} s")
        compare("ego_view", bags, frames, work, spec, None, args.workers)
        compare("ego_view + raw 1280x800", bags, frames, work, spec, "native", args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
