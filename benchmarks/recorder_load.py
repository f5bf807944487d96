"""Can the episode recorder keep up with the GR1's real load without losing a message?

A publisher process replays the robot's traffic (1280x800 rgb8 images at 30 Hz, a 44-joint
JointState at 200 Hz, teleop and robot commands at 100 Hz each) into a recorder process. The
episode starts once the traffic flows and stops `--seconds` later while the publisher is still
publishing, so the recorder's QA verdict judges a steady stream. Every published header stamp
inside the episode window is then looked up in the bag. Prints delivered/published per topic and
the ratio, the recorder's CPU use and the MB/s it wrote. `--contention N` adds N processes that
each keep one core busy for the whole run (they stop by themselves), like a driver or retargeting
on the robot; `--contention` alone is one.

Two publishers (`--publisher`):
- `project` (default): as the project likes it: every topic reliable with history depth 30, the
  messages serialized once (only the stamp bytes change), the recorder configured with these rates.
- `driver`: as real drivers do it: camera image and camera_info best effort depth 5
  (SensorDataQoS), joint states and commands reliable depth 10 (SystemDefaultsQoS, as
  ros2_control's broadcasters), each message built per publish as a Python driver builds it
  (cv_bridge's copy of the frame, fresh JointState lists), and the recorder started with the
  SHIPPED config (config/recording.yaml: QoS adapted to what is offered).
  `--compressed`: the camera as image_transport's compressed plugin publishes it instead
  (CompressedImage on .../image_raw/compressed, every frame JPEG-encoded at publish time from
  rgb8 via bgr8, quality 95, its default), recorded with the shipped config plus
  `camera_transport: compressed`.

Run it like every ROS process here, on loopback with a private domain:
    source ros2_ws/install/setup.bash
    .venv/bin/dreamgen-ros-env -- .venv/bin/python benchmarks/recorder_load.py --seconds 60 \
        [--publisher driver [--compressed]] [--contention [N]]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import psutil
import yaml

LOAD = {  # topic: (type, rate_hz)
    "/camera/ego_view/image_raw": ("sensor_msgs/msg/Image", 30.0),
    "/joint_states": ("sensor_msgs/msg/JointState", 200.0),
    "/teleop/joint_command": ("sensor_msgs/msg/JointState", 100.0),
    "/gr1/joint_command": ("sensor_msgs/msg/JointState", 100.0),
}
DRIVER_LOAD = {**LOAD, "/camera/ego_view/camera_info": ("sensor_msgs/msg/CameraInfo", 30.0)}
COMPRESSED_CAMERA = "/camera/ego_view/image_raw/compressed"
COMPRESSED_LOAD = {COMPRESSED_CAMERA: ("sensor_msgs/msg/CompressedImage", 30.0),
                   **{t: load for t, load in DRIVER_LOAD.items() if t != "/camera/ego_view/image_raw"}}
PUBLISHERS = {"project": LOAD, "driver": DRIVER_LOAD}
JPEG_QUALITY = 95  # image_transport's compressed plugin's default
SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "ros2_ws" / "src" / "dreamgen" / "config" / "recording.yaml"
WIDTH, HEIGHT = 1280, 800
# Messages published this close to the stop call may still be in flight when the episode ends.
IN_FLIGHT_S = 0.2
# Longest the run may take besides the episode itself (start-up, discovery, closing the bag).
SETUP_S = 60.0
BUSY = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


class ProjectTraffic:
    """Serialized once; only the header stamp (CDR bytes 4..12) changes per message, so the
    publisher spends its CPU on DDS, not on Python message conversion. Everything reliable, depth 30."""

    def __init__(self, node, spec) -> None:
        import numpy as np
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rclpy.serialization import serialize_message
        from sensor_msgs.msg import Image, JointState

        frame = np.tile(np.arange(WIDTH * 3, dtype=np.uint8), HEIGHT)
        image = Image(height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3, data=frame.tobytes())
        joints = JointState(name=list(spec.joint_names), position=[0.1] * spec.dim, velocity=[0.0] * spec.dim)
        self.templates = {t: bytearray(serialize_message(image if "image" in t else joints)) for t in LOAD}
        qos = QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = {t: node.create_publisher(Image if "image" in t else JointState, t, qos) for t in LOAD}

    def publish(self, topic: str, stamp: int) -> None:
        sec, nanosec = divmod(stamp, 1_000_000_000)
        data = self.templates[topic]
        data[4:12] = sec.to_bytes(4, "little", signed=True) + nanosec.to_bytes(4, "little")
        self.pubs[topic].publish(bytes(data))


class DriverTraffic:
    """As drivers publish: SensorDataQoS camera and camera_info, SystemDefaults-like (reliable,
    depth 10) joint states and commands, a new message built for every publish."""

    def __init__(self, node, spec, load: dict[str, tuple[str, float]]) -> None:
        import numpy as np
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState

        self.Image, self.CompressedImage, self.CameraInfo, self.JointState = Image, CompressedImage, CameraInfo, JointState
        # A gradient with sensor-like noise, so the JPEG is as large as a camera's (~0.3 MB), not a flat one's.
        noise = np.random.default_rng(0).integers(0, 8, (HEIGHT, WIDTH * 3), dtype=np.uint8)
        self.frame = np.tile(np.arange(WIDTH * 3, dtype=np.uint8), HEIGHT).reshape(HEIGHT, WIDTH * 3) + noise
        self.names, self.dim = list(spec.joint_names), spec.dim
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        types = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage,
                 "sensor_msgs/msg/CameraInfo": CameraInfo}
        self.pubs = {t: node.create_publisher(types.get(ty, JointState), t,
                                              qos_profile_sensor_data if t.startswith("/camera/") else reliable)
                     for t, (ty, _) in load.items()}

    def publish(self, topic: str, stamp: int) -> None:
        msg = self.message(topic)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        self.pubs[topic].publish(msg)

    def message(self, topic: str):
        if topic.endswith("image_raw"):
            msg = self.Image(height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3)
            msg.data.frombytes(self.frame.tobytes())  # what cv_bridge's cv2_to_imgmsg does
            return msg
        if topic == COMPRESSED_CAMERA:  # image_transport: rgb8 -> bgr8, then OpenCV's encoder
            import cv2

            bgr = cv2.cvtColor(self.frame.reshape(HEIGHT, WIDTH, 3), cv2.COLOR_RGB2BGR)
            _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            return self.CompressedImage(format="rgb8; jpeg compressed bgr8", data=jpeg.tobytes())
        if topic.endswith("camera_info"):
            return self.CameraInfo(height=HEIGHT, width=WIDTH, distortion_model="plumb_bob", d=[0.0] * 5,
                                   k=[600.0, 0, WIDTH / 2, 0, 600.0, HEIGHT / 2, 0, 0, 1])
        return self.JointState(name=self.names, position=[0.1] * self.dim, velocity=[0.0] * self.dim,
                               effort=[0.0] * self.dim)


def traffic_load(kind: str, compressed: bool) -> dict[str, tuple[str, float]]:
    return COMPRESSED_LOAD if compressed else PUBLISHERS[kind]


def publish(kind: str, compressed: bool, ready: Path, stop: Path, stamps_path: Path) -> None:
    """Publisher mode: wait for the recorder to match every topic, publish on schedule until `stop`
    exists, then write every header stamp it published."""
    import rclpy

    from dreamgen_core.embodiment import load_embodiment

    rclpy.init()
    node = rclpy.create_node("recorder_load_publisher")
    load = traffic_load(kind, compressed)
    traffic = (DriverTraffic(node, load_embodiment("gr1"), load) if kind == "driver"
               else ProjectTraffic(node, load_embodiment("gr1")))
    deadline = time.monotonic() + 30
    while any(p.get_subscription_count() == 0 for p in traffic.pubs.values()):
        if time.monotonic() > deadline:
            sys.exit("recorder_load: the recorder never subscribed to every topic")
        time.sleep(0.05)
    stamps: dict[str, list[int]] = {t: [] for t in load}
    start = time.monotonic()
    due = dict.fromkeys(load, start)
    ready.touch()
    next_check = start
    while True:
        now = time.monotonic()
        if now >= next_check:
            if stop.exists():
                break
            next_check = now + 0.1
        for topic, (_, hz) in load.items():
            if now >= due[topic]:
                stamp = time.time_ns()
                traffic.publish(topic, stamp)
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


def bag_stamps(bag: Path, topics: Iterable[str]) -> dict[str, set[int]]:
    """Header stamps per topic, read from the MCAP file by the independent `mcap` reader."""
    from mcap.reader import make_reader

    from dreamgen_core.bag.schema import header_stamp_ns

    found: dict[str, set[int]] = {t: set() for t in topics}
    with open(next(bag.glob("*.mcap")), "rb") as f:
        for _, channel, message in make_reader(f).iter_messages():
            if channel.topic in found:
                found[channel.topic].add(header_stamp_ns(message.data))
    return found


def recorder_parameters(kind: str, compressed: bool, tmp: Path) -> dict[str, str]:
    """`project`: a config with the rates published here; `driver`: the shipped config (the node's
    default), with only where episodes go changed, and the compressed camera chosen if published."""
    if kind == "driver":
        config = {}
        if compressed:
            shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())
            shipped["recording"]["camera_transport"] = "compressed"
            (tmp / "recording.yaml").write_text(yaml.safe_dump(shipped))
            config = {"config": str(tmp / "recording.yaml")}
        return {**config, "output_dir": str(tmp / "episodes"), "calibration_dir": str(tmp / "calibration"),
                "instruction": "recorder load"}
    return {"config": str(recorder_config(tmp / "recording.yaml", tmp / "episodes")), "instruction": "recorder load"}


def run(seconds: float, kind: str, compressed: bool, contention: int, keep: Path | None) -> None:
    import rclpy
    from std_srvs.srv import SetBool, Trigger

    from dreamgen_core.ros.node_process import NodeProcess

    busy = [subprocess.Popen([sys.executable, "-c", BUSY, str(seconds + SETUP_S)]) for _ in range(contention)]
    with tempfile.TemporaryDirectory(prefix="recorder_load_") as tmp_dir:
        tmp = keep or Path(tmp_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        ready, stop, stamps_path = tmp / "publishing", tmp / "stop_publishing", tmp / "published.json"
        for path in (ready, stop, stamps_path):
            path.unlink(missing_ok=True)
        rclpy.init()
        node = rclpy.create_node("recorder_load")
        with open(tmp / "recorder.log", "wb") as log, NodeProcess(
                "dreamgen", "episode_recorder", recorder_parameters(kind, compressed, tmp), log=log) as recorder:
            publisher = subprocess.Popen([sys.executable, __file__, "--as-publisher", "--publisher", kind,
                                          *(["--compressed"] if compressed else []),
                                          "--ready", str(ready), "--stop", str(stop), "--stamps", str(stamps_path)])
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
        for b in busy:
            b.kill()
        window = (t_start, t_stop - int(IN_FLIGHT_S * 1e9))
        published = {t: [s for s in stamps if window[0] <= s <= window[1]]
                     for t, stamps in json.loads(stamps_path.read_text()).items()}
        recorded = bag_stamps(bag, published)
        delivered = {t: sum(1 for s in stamps if s in recorded[t]) for t, stamps in published.items()}
        written = sum(f.stat().st_size for f in bag.iterdir())
        cpu = {"recorder": sum(rec_cpu1[:2]) - sum(rec_cpu0[:2]), "publisher": sum(pub_cpu1[:2]) - sum(pub_cpu0[:2])}
        report(kind, compressed, published, delivered, cpu, t1 - t0, written, json.loads(stopped.message),
               t_closed - t1, contention)


def report(kind: str, compressed: bool, published: dict[str, list[int]], delivered: dict[str, int],
           cpu: dict[str, float], wall: float, written: int, stop: dict, close_s: float, contention: int) -> None:
    busy = {0: "", 1: ", one core kept busy by another process"}.get(
        contention, f", {contention} cores kept busy by other processes")
    camera = f"{WIDTH}x{HEIGHT} {'jpeg' if compressed else 'rgb8'} @ 30 Hz"
    print(f"recorder load ({kind} publisher): {wall:.1f} s episode of GR1 traffic ({camera}, "
          f"44-joint JointState @ 200 Hz, 2 commands @ 100 Hz) on {psutil.cpu_count()} cores{busy}")
    print(f"{'topic':<38} {'published':>9} {'delivered':>9} {'ratio':>7}")
    total_p = total_d = 0
    for topic, stamps in published.items():
        p, d = len(stamps), delivered[topic]
        total_p, total_d = total_p + p, total_d + d
        print(f"{topic:<38} {p:>9} {d:>9} {d / max(p, 1):>7.4f}")
    print(f"{'all':<38} {total_p:>9} {total_d:>9} {total_d / max(total_p, 1):>7.4f}")
    print(f"recorder CPU: {100 * cpu['recorder'] / wall:.0f}% of one core; "
          f"publisher CPU: {100 * cpu['publisher'] / wall:.0f}% of one core; "
          f"load average {psutil.getloadavg()[0]:.1f}")
    print(f"written: {written / 2**20:.0f} MiB, {written / 2**20 / wall:.1f} MiB/s; "
          f"bag closed {close_s:.2f} s after the stop call; QA {stop['qa']} {stop['reasons']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to record (default 60)")
    parser.add_argument("--publisher", choices=sorted(PUBLISHERS), default="project",
                        help="project: reliable depth 30, pre-serialized; driver: drivers' QoS and messages, "
                             "shipped recorder config (default: project)")
    parser.add_argument("--contention", type=int, nargs="?", const=1, default=0, metavar="N",
                        help="keep N cores busy with other processes for the whole run (N defaults to 1)")
    parser.add_argument("--compressed", action="store_true",
                        help="with --publisher driver: the camera as CompressedImage (jpeg, encoded per frame)")
    parser.add_argument("--keep", type=Path, help="write the bag and logs here and keep them (default: a temp dir)")
    parser.add_argument("--as-publisher", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--ready", "--stop", "--stamps"):
        parser.add_argument(hidden, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compressed and args.publisher != "driver":
        parser.error("--compressed needs --publisher driver")
    if args.as_publisher:
        publish(args.publisher, args.compressed, args.ready, args.stop, args.stamps)
    else:
        run(args.seconds, args.publisher, args.compressed, args.contention, args.keep)


if __name__ == "__main__":
    main()
