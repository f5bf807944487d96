"""Can the episode recorder keep up with the GR1's real load without losing a message?

A publisher process replays the robot's traffic (1280x800 rgb8 images at 30 Hz, a 44-joint
JointState at 200 Hz, teleop and robot commands at 100 Hz each) for `--seconds` into a recorder
process that is already recording; then the bag is compared with what was published. Prints
delivered/published per topic and the ratio, the recorder's CPU use and the MB/s it wrote.

Run it like every ROS process here, on loopback with a private domain:
    source ros2_ws/install/setup.bash
    .venv/bin/dreamgen-ros-env -- .venv/bin/python benchmarks/recorder_load.py --seconds 60
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


def publish(seconds: float, counts_path: Path) -> None:
    """Publisher mode: wait for the recorder to match every topic, publish on schedule, write counts."""
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
    # A writer sees the reader matched before the reader has matched the writer; samples sent in
    # between are dropped by the reader. Give discovery time to settle on both sides.
    time.sleep(2.0)
    counts = dict.fromkeys(LOAD, 0)
    start = time.monotonic()
    due = dict.fromkeys(LOAD, start)
    while (now := time.monotonic()) < start + seconds:
        for topic, (_, hz) in LOAD.items():
            if now >= due[topic]:
                sec, nanosec = divmod(time.time_ns(), 1_000_000_000)
                data = templates[topic]
                data[4:12] = sec.to_bytes(4, "little", signed=True) + nanosec.to_bytes(4, "little")
                pubs[topic].publish(bytes(data))
                counts[topic] += 1
                due[topic] += 1.0 / hz
        time.sleep(max(0.0, min(due.values()) - time.monotonic()))
    counts_path.write_text(json.dumps({"counts": counts, "seconds": time.monotonic() - start}))
    time.sleep(1.0)  # let reliable DDS deliver the tail before the writers go away
    node.destroy_node()
    rclpy.shutdown()


def recorder_config(path: Path, output_dir: Path) -> Path:
    topics = [{"topic": t, "type": ty, "rate_hz": hz, "required": False} for t, (ty, hz) in LOAD.items()]
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


def run(seconds: float, keep: Path | None) -> None:
    import rclpy
    from std_srvs.srv import SetBool, Trigger

    from dreamgen_core.bag import read_info
    from dreamgen_core.ros.node_process import NodeProcess

    with tempfile.TemporaryDirectory(prefix="recorder_load_") as tmp_dir:
        tmp = keep or Path(tmp_dir)
        config = recorder_config(tmp / "recording.yaml", tmp / "episodes")
        rclpy.init()
        node = rclpy.create_node("recorder_load")
        with open(tmp / "recorder.log", "wb") as log, NodeProcess(
                "dreamgen", "episode_recorder", {"config": str(config), "instruction": "recorder load"},
                log=log) as recorder:
            started = call(node, Trigger, "/episode_recorder/start", Trigger.Request())
            if not started.success:
                sys.exit(f"recorder_load: start refused: {started.message}")
            rec = psutil.Process(recorder.pid)
            cpu0 = rec.cpu_times()
            t0 = time.monotonic()
            publisher = subprocess.Popen([sys.executable, __file__, "--publisher", "--seconds", str(seconds),
                                          "--counts", str(tmp / "published.json")])
            pub = psutil.Process(publisher.pid)
            pub_cpu = pub.cpu_times()
            while publisher.poll() is None:
                pub_cpu = pub.cpu_times()
                time.sleep(0.2)
            if publisher.returncode != 0:
                sys.exit(f"recorder_load: publisher failed ({publisher.returncode})")
            cpu1, t1 = rec.cpu_times(), time.monotonic()
            stopped = call(node, SetBool, "/episode_recorder/stop", SetBool.Request(data=True))
            bag = tmp / "episodes" / started.message
            while not (bag / "metadata.yaml").exists():
                time.sleep(0.1)
            t_closed = time.monotonic()
        node.destroy_node()
        rclpy.shutdown()
        published = json.loads((tmp / "published.json").read_text())
        info = read_info(bag)
        written = sum(f.stat().st_size for f in bag.iterdir())
        report(published, {t.name: t.count for t in info.topics}, cpu1.user + cpu1.system - cpu0.user - cpu0.system,
               pub_cpu.user + pub_cpu.system, t1 - t0, written, json.loads(stopped.message), t_closed - t1)


def report(published: dict, delivered: dict, rec_cpu: float, pub_cpu: float, wall: float, written: int,
           stop: dict, close_s: float) -> None:
    seconds = published["seconds"]
    print(f"recorder load: {seconds:.1f} s of GR1 traffic ({WIDTH}x{HEIGHT} rgb8 @ 30 Hz, "
          f"44-joint JointState @ 200 Hz, 2 commands @ 100 Hz) on {psutil.cpu_count()} cores")
    print(f"{'topic':<30} {'published':>9} {'delivered':>9} {'ratio':>7}")
    total_p = total_d = 0
    for topic in LOAD:
        p, d = published["counts"][topic], delivered.get(topic, 0)
        total_p, total_d = total_p + p, total_d + d
        print(f"{topic:<30} {p:>9} {d:>9} {d / p:>7.4f}")
    print(f"{'all':<30} {total_p:>9} {total_d:>9} {total_d / total_p:>7.4f}")
    print(f"recorder CPU: {rec_cpu:.1f} s over {wall:.1f} s = {100 * rec_cpu / wall:.0f}% of one core; "
          f"publisher CPU: {100 * pub_cpu / wall:.0f}% of one core")
    print(f"written: {written / 2**20:.0f} MiB, {written / 2**20 / seconds:.1f} MiB/s over the publish window; "
          f"bag closed {close_s:.2f} s after the publisher ended; QA {stop['qa']} {stop['reasons']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to publish (default 60)")
    parser.add_argument("--keep", type=Path, help="write the bag and logs here and keep them (default: a temp dir)")
    parser.add_argument("--publisher", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--counts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher:
        publish(args.seconds, args.counts)
    else:
        run(args.seconds, args.keep)


if __name__ == "__main__":
    main()
