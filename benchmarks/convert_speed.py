"""How fast does `dreamgen convert` turn GR1-resolution episode bags into a dataset?

Builds `--episodes` episode bags (1280x800 rgb8 camera at 30 Hz rendered by the simulated GR1,
44-joint states at 200 Hz, teleop commands at 20 Hz) with the recorder's bag writer, then times,
side by side on the same bags and in one run:
  ours      convert_bags (parallel readers + one encoder)                       -> frames/s
  baseline  a straightforward converter: one rosbags read loop, per dataset frame
            decode the latest image, crop/pad/resize, encode                     -> frames/s
  encode    the h264 encode alone of the same 256x256 frames                     -> frames/s
and prints ours/baseline and ours/encode. No ROS process is started.

    .venv/bin/python benchmarks/convert_speed.py [--episodes 10] [--seconds 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader

from dreamgen_core.bag import BagWriter, TopicInfo
from dreamgen_core.bag.schema import typestore
from dreamgen_core.convert import ConvertConfig, convert_bags
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.sim import robot as sim_robot
from dreamgen_core.video import EncoderConfig, ModelViewTransform, VideoWriter

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


def baseline(bag: Path, out: Path, spec) -> int:
    """The straightforward converter: one loop, decode/resize/encode each dataset frame as it comes."""
    view = ModelViewTransform.for_camera(spec.cameras["ego_view"])
    fps, frames, latest_image, next_t = spec.rates.dataset_fps, 0, None, None
    with AnyReader([bag]) as reader, VideoWriter(out, fps, (256, 256), EncoderConfig()) as video:
        for conn, _, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            t = msg.header.stamp.sec * NS + msg.header.stamp.nanosec
            if conn.topic == "/camera/ego_view/image_raw":
                latest_image = msg
            next_t = t if next_t is None else next_t
            while latest_image is not None and t >= next_t:
                image = np.asarray(latest_image.data).reshape(800, 1280, 3)
                video.write(view(image))
                frames += 1
                next_t += int(NS / fps)
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each episode")
    parser.add_argument("--workers", type=int, default=2)
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

        t = time.perf_counter()
        results = convert_bags(bags, work / "dataset", spec, ConvertConfig(), workers=args.workers, progress=False)
        ours_s = time.perf_counter() - t
        ours_frames = sum(r.frames for r in results)
        assert all(r.status == "converted" for r in results), [r.message for r in results]

        t = time.perf_counter()
        base_frames = sum(baseline(bag, work / f"baseline_{k}.mp4", spec) for k, bag in enumerate(bags))
        base_s = time.perf_counter() - t

        view = ModelViewTransform.for_camera(spec.cameras["ego_view"])
        small = [view(f) for f in frames]
        t = time.perf_counter()
        with VideoWriter(work / "encode_only.mp4", spec.rates.dataset_fps, (256, 256), EncoderConfig()) as video:
            for k in range(ours_frames):
                video.write(small[k % len(small)])
        encode_s = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours, base, enc = ours_frames / ours_s, base_frames / base_s, ours_frames / encode_s
    print(f"ours      dreamgen convert, {args.workers} workers: {ours_frames} frames in {ours_s:.2f} s = {ours:.0f} frames/s")
    print(f"baseline  one loop, decode/resize/encode per frame: {base_frames} frames in {base_s:.2f} s = {base:.0f} frames/s")
    print(f"encode    h264 encode alone, 256x256: {ours_frames} frames in {encode_s:.2f} s = {enc:.0f} frames/s")
    print(f"ratio ours/baseline = {ours / base:.2f}x   ours/encode-only = {ours / enc:.2f}x")


if __name__ == "__main__":
    main()
