"""Acceptance: the collect stack (sim) records episodes by service call; bags read back two ways.

Nodes run in separate processes over real Fast DDS, started from the same stack file as
`ros2 launch dreamgen collect.launch.py sim:=true`. Three episodes are recorded, one discarded;
the two kept bags are read with `rosbags` and with the `mcap` reader.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.ros.node_process import find_share
from dreamgen_core.ros.stack_runner import StackRunner
from dreamgen_core.stack import load_stack, plan

# Expected rates (sim time) and the tolerance on counts: DDS delivery on a loaded 2-core machine
# and episode edges (start/stop land between samples) cost a few percent.
RATES = {"/joint_states": 250.0, "/camera/ego_view/image_raw": 30.0, "/teleop/joint_command": 20.0,
         "/gr1/joint_command": 20.0}
COUNT_TOLERANCE = 0.15
EPISODE_S = 3.0


@pytest.fixture(scope="module")
def recorded(ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    import rclpy
    from std_msgs.msg import String
    from std_srvs.srv import SetBool, Trigger

    out = tmp_path_factory.mktemp("collect")
    share = find_share("dreamgen", ros_env)
    nodes = plan(load_stack(share / "config" / "collect.yaml"), sim=True, embodiment="gr1", share_dir=share,
                 overrides={"sim_robot": {"camera_width": 320, "camera_height": 200},
                            "episode_recorder": {"output_dir": str(out / "episodes"), "operator": "ci"}})
    replies = []
    with StackRunner(nodes, out / "logs", ros_env):
        rclpy.init()
        node = rclpy.create_node("collect_test")
        try:
            def call(srv_type, name, request):
                client = node.create_client(srv_type, name)
                assert client.wait_for_service(timeout_sec=60), f"{name} did not appear; logs in {out / 'logs'}"
                future = client.call_async(request)
                rclpy.spin_until_future_complete(node, future, timeout_sec=30)
                assert future.done(), f"no reply from {name}"
                return future.result()

            instruction = node.create_publisher(String, "/episode_recorder/instruction", 10)
            for k, ending in enumerate(("success", "discard", "failure")):
                assert call(Trigger, "/sim/reset", Trigger.Request()).success
                deadline = time.monotonic() + 30
                while True:  # until discovered, and while the start gate finds a required topic stale
                    instruction.publish(String(data=f"episode {k}: push the red cube onto the green target"))
                    rclpy.spin_once(node, timeout_sec=0.2)
                    started = call(Trigger, "/episode_recorder/start", Trigger.Request())
                    if started.success or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                assert started.success, started.message
                end = time.monotonic() + EPISODE_S
                while time.monotonic() < end:
                    rclpy.spin_once(node, timeout_sec=0.1)
                if ending == "discard":
                    replies.append(call(Trigger, "/episode_recorder/discard", Trigger.Request()))
                else:
                    replies.append(call(SetBool, "/episode_recorder/stop", SetBool.Request(data=ending == "success")))
                assert replies[-1].success, replies[-1].message
        finally:
            node.destroy_node()
            rclpy.shutdown()
    return out / "episodes", replies


def bag_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "metadata.yaml").is_file())


def test_two_bags_kept_and_the_discarded_one_is_gone(recorded) -> None:
    root, _ = recorded
    bags = bag_dirs(root)
    assert len(bags) == 2, sorted(p.name for p in root.iterdir())
    assert not [p for p in root.iterdir() if p.name.endswith(".partial")]


def test_counts_match_rates_and_both_readers_agree(recorded) -> None:
    root, _ = recorded
    for bag in bag_dirs(root):
        counts, stamps, names = Counter(), {}, set()
        with AnyReader([bag]) as reader:
            for conn, log_ns, raw in reader.messages():
                msg = reader.deserialize(raw, conn.msgtype)
                counts[conn.topic] += 1
                if hasattr(msg, "header"):
                    stamps.setdefault(conn.topic, []).append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
                if conn.topic == "/joint_states":
                    names.add(tuple(msg.name))
        mcap_file = next(bag.glob("*.mcap"))
        with open(mcap_file, "rb") as f:
            mcap_counts = Counter(channel.topic for _, channel, _ in make_reader(f).iter_messages())
        assert {t: mcap_counts[t] for t in RATES} == {t: counts[t] for t in RATES}
        js = stamps["/joint_states"]
        duration_s = (js[-1] - js[0]) / 1e9  # sim time
        assert duration_s > 1.0
        for topic, rate in RATES.items():
            expected = rate * duration_s
            assert abs(counts[topic] - expected) <= COUNT_TOLERANCE * expected + 2, (bag.name, topic, counts[topic], expected)
            assert all(a <= b for a, b in zip(stamps[topic], stamps[topic][1:])), f"{topic} stamps go back"
        assert names == {load_embodiment("gr1").joint_names}


def test_metadata_and_qa_verdict_are_in_the_bag(recorded) -> None:
    root, replies = recorded
    spec = load_embodiment("gr1")
    outcomes = []
    for bag in bag_dirs(root):
        info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        custom = info["custom_data"]
        assert custom["embodiment"] == "gr1" and custom["embodiment_hash"] == spec.content_hash
        assert custom["instruction"].endswith("push the red cube onto the green target")
        assert custom["operator"] == "ci"
        assert custom["qa_verdict"] in ("ok", "needs_review")
        assert custom["calibration_hash"]
        outcomes.append(custom["outcome"])
    assert outcomes == ["success", "failure"]
    assert json.loads(replies[0].message)["outcome"] == "success"
