"""Acceptance: the collect stack (sim) records episodes by service call; bags read back two ways.

Nodes run in separate processes over real Fast DDS, started from the same stack file as
`ros2 launch dreamgen collect.launch.py sim:=true`. Three episodes are recorded, one discarded;
the two kept bags are read with `rosbags` and with the `mcap` reader.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader

from dreamgen_core.embodiment import load_embodiment

# Expected rates (sim time) and the tolerance on counts: DDS delivery on a loaded 2-core machine
# and episode edges (start/stop land between samples) cost a few percent.
RATES = {"/joint_states": 250.0, "/camera/ego_view/image_raw": 30.0, "/teleop/joint_command": 20.0,
         "/gr1/joint_command": 20.0}
COUNT_TOLERANCE = 0.15
pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def recorded(sim_episodes):
    return sim_episodes


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
            for conn, _, raw in reader.messages():
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
