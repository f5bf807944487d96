"""QoS adaptation without ROS: the rule (as rosbag2's), how it changes over an episode, the start
refusal that names a publisher, and the offered profiles in the bag read back by rosbags and mcap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader
from rosbags.interfaces import QosDurability, QosHistory, QosReliability
from rosbags.rosbag2.metadata import parse_qos
from test_bag_core import NS, image, joint_state
from test_recorder_core import config

from dreamgen_core.config import ConfigError
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.recording import Recorder, Refused, parse_recording_config
from dreamgen_core.recording.qos import (
    INFINITE_NS,
    Change,
    Durability,
    Offer,
    Reliability,
    Requested,
    adapted,
    change,
    mismatch,
    requested,
)

RELIABLE, BEST_EFFORT = Reliability.RELIABLE, Reliability.BEST_EFFORT
VOLATILE, TRANSIENT = Durability.VOLATILE, Durability.TRANSIENT_LOCAL
CAMERA = Offer("/camera_driver", BEST_EFFORT, VOLATILE, depth=5)
BROADCASTER = Offer("/joint_state_broadcaster", RELIABLE, VOLATILE, depth=10, deadline_ns=3 * NS // 2)


def test_subscribe_reliable_only_when_every_publisher_offers_it() -> None:
    assert adapted([]) is None
    assert adapted([BROADCASTER]) == Requested(RELIABLE, VOLATILE)
    assert adapted([CAMERA]) == Requested(BEST_EFFORT, VOLATILE)
    assert adapted([BROADCASTER, CAMERA]) == Requested(BEST_EFFORT, VOLATILE)
    latched = Offer("/map_server", RELIABLE, TRANSIENT)
    assert adapted([latched]) == Requested(RELIABLE, TRANSIENT)
    assert adapted([latched, BROADCASTER]) == Requested(RELIABLE, VOLATILE)
    # An explicit qos wins over the offers, even when it cannot match them.
    assert requested("reliable", [CAMERA]) == Requested(RELIABLE)
    assert requested("sensor_data", [BROADCASTER]) == Requested(BEST_EFFORT)
    assert requested("auto", [CAMERA]) == Requested(BEST_EFFORT)


def test_mismatch_names_publisher_offer_and_request() -> None:
    assert mismatch(BROADCASTER, Requested(RELIABLE)) == ""
    assert mismatch(BROADCASTER, Requested(BEST_EFFORT)) == ""  # best effort matches any publisher
    assert mismatch(CAMERA, Requested(RELIABLE)) == (
        "publisher /camera_driver offers best_effort/volatile, requested reliable/volatile (incompatible reliability)")
    assert mismatch(CAMERA, Requested(RELIABLE, TRANSIENT)).endswith("(incompatible reliability and durability)")


def test_a_subscription_changes_only_while_no_episode_records() -> None:
    reliable, best_effort = Requested(RELIABLE), Requested(BEST_EFFORT)
    assert change(None, None, recording=False) is Change.KEEP          # no publisher yet: wait
    assert change(None, reliable, recording=True) is Change.SUBSCRIBE  # a first subscription loses nothing
    assert change(reliable, reliable, recording=False) is Change.KEEP
    assert change(reliable, None, recording=False) is Change.KEEP      # publishers gone: they may come back
    assert change(reliable, best_effort, recording=False) is Change.SUBSCRIBE
    assert change(reliable, best_effort, recording=True) is Change.AFTER_EPISODE


def test_config_qos_defaults_to_auto_and_is_checked() -> None:
    assert {t.qos for t in config().topics} == {"auto"}
    with pytest.raises(ConfigError, match=r"topics\[0\]\.qos"):
        parse_recording_config({"topics": [{"topic": "/joint_states", "type": "sensor_msgs/msg/JointState",
                                            "qos": "fast"}]}, "test.yaml", load_embodiment("gr1"))


def test_start_refusal_says_which_publisher_cannot_match_or_that_there_is_none(tmp_path: Path) -> None:
    rec = Recorder(config(output_dir=str(tmp_path)), "gr1", "h")
    rec.observe(0, 0, 0, joint_state(0))
    # Before the node looked at the graph the refusal says only what it knows.
    with pytest.raises(Refused) as before:
        rec.start("pick", "", 0, 0)
    assert str(before.value) == "required topic(s) stale: /camera/ego_view/image_raw: nothing received yet"
    rec.graph(1, (CAMERA,), Requested(RELIABLE))
    with pytest.raises(Refused) as incompatible:
        rec.start("pick", "", 0, 0)
    assert str(incompatible.value) == (
        "required topic(s) stale: /camera/ego_view/image_raw: nothing received yet (publisher /camera_driver "
        "offers best_effort/volatile, requested reliable/volatile (incompatible reliability))")
    rec.graph(1, (), Requested(RELIABLE))
    with pytest.raises(Refused, match=r"image_raw: nothing received yet \(no publisher\)$"):
        rec.start("pick", "", 0, 0)


def test_publisher_that_cannot_match_mid_episode_needs_review(tmp_path: Path) -> None:
    rec = Recorder(config(output_dir=str(tmp_path)), "gr1", "h")
    rec.graph(1, (BROADCASTER,), Requested(RELIABLE))
    rec.observe(0, 0, 0, joint_state(0))
    rec.observe(1, 0, 0, image(0))
    rec.start("pick", "", 0, 0)
    for k in range(1, 301):  # at the spec's rates: joint states 100 Hz, camera 30 Hz
        t = k * NS // 100
        rec.observe(0, t, t, joint_state(t))
        if k % 3 == 0:
            rec.observe(1, t, t, image(t))
    assert rec.status(3 * NS)["qa"]["verdict"] == "ok"
    for _ in range(3):  # the node looks every tick: one reason however often it sees the publisher
        rec.graph(1, (BROADCASTER, CAMERA), Requested(RELIABLE))
    closed = rec.stop("success", 3 * NS, 3 * NS)
    assert closed.verdict == "needs_review"
    assert closed.reasons == [("/camera/ego_view/image_raw: publisher /camera_driver offers best_effort/volatile, "
                              "requested reliable/volatile (incompatible reliability): not recorded in this episode")]


def test_offered_profiles_round_trip_through_rosbags_and_mcap(tmp_path: Path) -> None:
    rec = Recorder(config(output_dir=str(tmp_path)), "gr1", "h")
    rec.graph(0, (BROADCASTER,), Requested(RELIABLE))
    rec.graph(1, (CAMERA, Offer("/camera_relay", RELIABLE, TRANSIENT, "keep_all")), Requested(BEST_EFFORT))
    rec.observe(0, 0, 0, joint_state(0))
    rec.observe(1, 0, 0, image(0))
    rec.start("pick", "", 0, 0)
    rec.observe(0, NS // 100, NS // 100, joint_state(NS // 100))
    closed = rec.stop("success", NS, NS)
    rec.wait_closed(10)
    bag = tmp_path / closed.name
    expected = {
        "/joint_states": [(QosHistory.KEEP_LAST, 10, QosReliability.RELIABLE, QosDurability.VOLATILE, (1, NS // 2))],
        "/camera/ego_view/image_raw": [
            (QosHistory.KEEP_LAST, 5, QosReliability.BEST_EFFORT, QosDurability.VOLATILE, divmod(INFINITE_NS, NS)),
            (QosHistory.KEEP_ALL, 0, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, divmod(INFINITE_NS, NS))],
        "/teleop/joint_command": []}

    def summary(profiles: list) -> list[tuple]:
        return [(q.history, q.depth, q.reliability, q.durability, tuple(q.deadline)) for q in profiles]

    with AnyReader([bag]) as reader:  # rosbags reads metadata.yaml's topic_metadata
        from_yaml = {c.topic: summary(c.ext.offered_qos_profiles) for c in reader.connections}
    with open(next(bag.glob("*.mcap")), "rb") as f:
        channels = make_reader(f).get_summary().channels.values()
        from_channels = {c.topic: summary(parse_qos(c.metadata["offered_qos_profiles"])) for c in channels}
    for topic, profiles in expected.items():
        assert from_yaml[topic] == profiles, topic
        assert from_channels[topic] == profiles, topic
    # metadata.yaml holds the profiles as a YAML list (rosbag2 version 9), as `ros2 bag play` expects
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    camera = next(t["topic_metadata"] for t in info["topics_with_message_count"]
                  if t["topic_metadata"]["name"] == "/camera/ego_view/image_raw")
    assert camera["offered_qos_profiles"][0]["reliability"] == "best_effort"
    assert json.dumps(camera["offered_qos_profiles"][1]["deadline"]) == '{"sec": 9223372036, "nsec": 854775807}'
