"""Can the episode recorder keep up with the GR1's real load without losing a message?

A publisher process replays the robot's traffic (1280x800 rgb8 images at 30 Hz, a 44-joint
JointState at 200 Hz, teleop and robot commands at 100 Hz each) into a recorder process. The
episode starts once the traffic flows and stops `--seconds` later while the publisher is still
publishing, so the recorder's QA verdict judges a steady stream. Every published header stamp
inside the episode window is then looked up in the bag. Prints delivered/published per topic and
the ratio, the recorder's CPU use and the MB/s it wrote. `--contention` adds a process that keeps
one core busy for the whole run (it stops by itself), like a driver or retargeting on the robot.

Run it like every ROS process here, on loopback with a private domain:
    source ros2_ws/install/setup.bash
    .venv/bin/dreamgen-ros-env -- .venv/bin/python benchmarks/recorder_load.py --seconds 60 [--contention]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

LOAD = {  # topic: (type, rate_hz)
    "/camera/ego_view/image_raw": ("sensor_msgs/msg/Image", 30.0),
    "/joint_states": ("sensor_msgs/msg/JointState", 200.0),
    "/teleop/joint_command": ("sensor_msgs/msg/JointState", 100.0),
    "/gr1/joint_command": ("sensor_msgs/msg/JointState", 100.0),
}
WIDTH, HEIGHT = 1280, 800
# Messages published this close to the stop call may still be in flight when the episode ends.
IN_FLIGHT_S = 0.2
# Longest the run may take besides the episode itself (start-up, discovery, closing the bag).
SETUP_S = 60.0
BUSY = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def publish(ready: Path, stop: Path, stamps_path: Path) -> None:
    """Publisher mode: wait for the recorder to match every topic, publish on schedule until `stop`
    exists, then write every header stamp it published."""
    import numpy as np
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image, JointState

    from dreamgen_core.embodiment import load_embodiment

    rclpy.init()
    node = rclpy.create_node("recorder_load_publisher")
    spec = load_embodiment("gr1")
    frame = np.tile(np.arange(WIDTH * 3, dtype=np.uint8), HEIGHT)
    image = Image(height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3, data=frame.tobytes())
    joints = JointState(name=list(spec.joint_names), position=[0.1] * spec.dim, velocity=[0.0] * spec.dim)
    # Serialized once; only the header stamp (CDR bytes 4..12) changes per message, so the
    # publisher spends its CPU on DDS, not on Python message conversion.
    templates = {t: bytearray(serialize_message(image if "image" in t else joints)) for t in LOAD}
    qos = QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {t: node.create_publisher(Image if "image" in t else JointState, t, qos) for t in LOAD}
    deadline = time.monotonic() + 30
    while any(p.get_subscription_count() == 0 for p in pubs.values()):
        if time.monotonic() > deadline:
            sys.exit("recorder_load: the recorder never subscribed to every topic")
        time.sleep(0.05)
    stamps: dict[str, list[int]] = {t: [] for t in LOAD}
    start = time.monotonic()
    due = dict.fromkeys(LOAD, start)
    ready.touch()
    next_check = start
    while True:
        now = time.monotonic()
        if now >= next_check:
            if stop.exists():
                break
            next_check = now + 0.1
        for topic, (_, hz) in LOAD.items():
            if now >= due[topic]:
                stamp = time.time_ns()
                sec, nanosec = divmod(stamp, 1_000_000_000)
                data = templates[topic]
                data[4:12] = sec.to_bytes(4, "little", signed=True) + nanosec.to_bytes(4, "little")
                pubs[topic].publish(bytes(data))
                stamps[topic].append(stamp)
                due[topic] += 1.0 / hz
        time.sleep(max(0.0, min(*due.values(), next_check) - time.monotonic()))
    stamps_path.write_text(json.dumps(stamps))
    node.destroy_node()
    rclpy.shutdown()


def recorder_config(path: Path, output_dir: Path) -> Path:
    """The GR1's topics from its spec, overridden with the rates published here (camera_info is not)."""
    topics = [{"topic": t, "type": ty, "rate_hz": hz, "required": False} for t, (ty, hz) in LOAD.items()]
    topics.append({"topic": "/camera/ego_view/camera_info", "type": "sensor_msgs/msg/CameraInfo", "rate_hz": 0})
    path.write_text(yaml.safe_dump({"recording": {"output_dir": str(output_dir), "topics": topics,
                                                  "min_free_disk_mb": 2048}}))
    return path


def call(node, srv_type, name: str, request):
    import rclpy
    client = node.create_client(srv_type, name)
    if not client.wait_for_service(timeout_sec=30):
        sys.exit(f"recorder_load: {name} never appeared")
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=60)
    return future.result()


def wait_for(path: Path, what: str, timeout_s: float = SETUP_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"recorder_load: {what} never happened")
        time.sleep(0.05)


def bag_stamps(bag: Path) -> dict[str, set[int]]:
    """Header stamps per topic, read from the MCAP file by the independent `mcap` reader."""
    from mcap.reader import make_reader

    from dreamgen_core.bag.schema import header_stamp_ns

    found: dict[str, set[int]] = {t: set() for t in LOAD}
    with open(next(bag.glob("*.mcap")), "rb") as f:
        for _, channel, message in make_reader(f).iter_messages():
            if channel.topic in found:
                found[channel.topic].add(header_stamp_ns(message.data))
    return found


def run(seconds: float, contention: bool, keep: Path | None) -> None:
    import rclpy
    from std_srvs.srv import SetBool, Trigger

    from dreamgen_core.ros.node_process import NodeProcess

    busy = subprocess.Popen([sys.executable, "-c", BUSY, str(seconds + SETUP_S)]) if contention else None
    with tempfile.TemporaryDirectory(prefix="recorder_load_") as tmp_dir:
        tmp = keep or Path(tmp_dir)
        config = recorder_config(tmp / "recording.yaml", tmp / "episodes")
        ready, stop, stamps_path = tmp / "publishing", tmp / "stop_publishing", tmp / "published.json"
        for path in (ready, stop, stamps_path):
            path.unlink(missing_ok=True)
        rclpy.init()
        node = rclpy.create_node("recorder_load")
        with open(tmp / "recorder.log", "wb") as log, NodeProcess(
                "dreamgen", "episode_recorder", {"config": str(config), "instruction": "recorder load"},
                log=log) as recorder:
            publisher = subprocess.Popen([sys.executable, __file__, "--publisher", "--ready", str(ready),
                                          "--stop", str(stop), "--stamps", str(stamps_path)])
            wait_for(ready, "publishing")
            # A writer sees the reader matched before the reader has matched the writer; samples sent
            # in between are dropped by the reader. Let discovery settle on both sides first.
            time.sleep(2.0)
            started = call(node, Trigger, "/episode_recorder/start", Trigger.Request())
            if not started.success:
                sys.exit(f"recorder_load: start refused: {started.message}")
            t_start = time.time_ns()
            rec, pub = psutil.Process(recorder.pid), psutil.Process(publisher.pid)
            rec_cpu0, pub_cpu0, t0 = rec.cpu_times(), pub.cpu_times(), time.monotonic()
            time.sleep(seconds)
            rec_cpu1, pub_cpu1, t1 = rec.cpu_times(), pub.cpu_times(), time.monotonic()
            t_stop = time.time_ns()
            stopped = call(node, SetBool, "/episode_recorder/stop", SetBool.Request(data=True))
            stop.touch()
            if publisher.wait(SETUP_S) != 0:
                sys.exit(f"recorder_load: publisher failed ({publisher.returncode})")
            bag = tmp / "episodes" / started.message
            wait_for(bag / "metadata.yaml", "closing the bag")
            t_closed = time.monotonic()
        node.destroy_node()
        rclpy.shutdown()
        if busy is not None:
            busy.kill()
        window = (t_start, t_stop - int(IN_FLIGHT_S * 1e9))
        published = {t: [s for s in stamps if window[0] <= s <= window[1]]
                     for t, stamps in json.loads(stamps_path.read_text()).items()}
        recorded = bag_stamps(bag)
        delivered = {t: sum(1 for s in stamps if s in recorded[t]) for t, stamps in published.items()}
        written = sum(f.stat().st_size for f in bag.iterdir())
        cpu = {"recorder": sum(rec_cpu1[:2]) - sum(rec_cpu0[:2]), "publisher": sum(pub_cpu1[:2]) - sum(pub_cpu0[:2])}
        report(published, delivered, cpu, t1 - t0, written, json.loads(stopped.message), t_closed - t1, contention)


def report(published: dict[str, list[int]], delivered: dict[str, int], cpu: dict[str, float], wall: float,
           written: int, stop: dict, close_s: float, contention: bool) -> None:
    print(f"recorder load: {wall:.1f} s episode of GR1 traffic ({WIDTH}x{HEIGHT} rgb8 @ 30 Hz, "
          f"44-joint JointState @ 200 Hz, 2 commands @ 100 Hz) on {psutil.cpu_count()} cores"
          + (", one core kept busy by another process" if contention else ""))
    print(f"{'topic':<30} {'published':>9} {'delivered':>9} {'ratio':>7}")
    total_p = total_d = 0
    for topic in LOAD:
        p, d = len(published[topic]), delivered[topic]
        total_p, total_d = total_p + p, total_d + d
        print(f"{topic:<30} {p:>9} {d:>9} {d / max(p, 1):>7.4f}")
    print(f"{'all':<30} {total_p:>9} {total_d:>9} {total_d / max(total_p, 1):>7.4f}")
    print(f"recorder CPU: {100 * cpu['recorder'] / wall:.0f}% of one core; "
          f"publisher CPU: {100 * cpu['publisher'] / wall:.0f}% of one core; "
          f"load average {psutil.getloadavg()[0]:.1f}")
    print(f"written: {written / 2**20:.0f} MiB, {written / 2**20 / wall:.1f} MiB/s; "
          f"bag closed {close_s:.2f} s after the stop call; QA {stop['qa']} {stop['reasons']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to record (default 60)")
    parser.add_argument("--contention", action="store_true",
                        help="keep one core busy with another process for the whole run")
    parser.add_argument("--keep", type=Path, help="write the bag and logs here and keep them (default: a temp dir)")
    parser.add_argument("--publisher", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--ready", "--stop", "--stamps"):
        parser.add_argument(hidden, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher:
        publish(args.ready, args.stop, args.stamps)
    else:
        run(args.seconds, args.contention, args.keep)


if __name__ == "__main__":
    main()
