"""A robot that publishes body and hand joint states in separate messages (the real GR1 does) converts:
each state row holds every joint's latest value, whichever message carried it, and no row holds a
joint that no message has reported yet.

The split bag is a sim-recorded episode rewritten so that /joint_states messages alternate between
the body joints and the hand joints, the hands starting 0.5 s late (a hand driver that comes up
after the body's). Against the original bag, every state value may differ only by the motion of
one message period (it is one message older at most).
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from test_convert import episode_table, joint_messages
from test_convert_broken import keep, rewrite

from dreamgen_core.convert import convert_bags
from dreamgen_core.embodiment import load_embodiment

pytestmark = pytest.mark.ros  # the source bag is recorded by the collect stack

SPEC = load_embodiment("gr1")
HANDS = {n for g in SPEC.layout if g.group.endswith("_hand") for n in g.joints}
STATE = SPEC.ros.joint_states.name
HANDS_LATE_NS = 500_000_000


def split_body_and_hands(hands_from_ns: int) -> Any:
    """Transform for `rewrite`: the k-th joint-state message keeps only the body (even k) or the hands
    (odd k); hand messages stamped before `hands_from_ns` are dropped."""
    count = [0]

    def transform(topic: str, msg: Any, k: int):
        if topic != STATE:
            return keep(topic, msg, k)
        hands = count[0] % 2 == 1
        count[0] += 1
        if hands and msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec < hands_from_ns:
            return None
        idx = [i for i, n in enumerate(msg.name) if (n in HANDS) == hands]
        part = {field: getattr(msg, field)[idx] for field in ("position", "velocity", "effort")
                if len(getattr(msg, field))}
        return type(msg).__msgtype__, dataclasses.replace(msg, name=[msg.name[i] for i in idx], **part)
    return transform


def first_joint_names(bag: Path, count: int) -> list[set[str]]:
    with AnyReader([bag]) as reader:
        messages = reader.messages(connections=[c for c in reader.connections if c.topic == STATE])
        return [set(reader.deserialize(raw, c.msgtype).name) for c, _, raw in itertools.islice(messages, count)]


def test_body_and_hands_in_separate_messages_convert(sim_episodes, ci_convert_config, tmp_path: Path) -> None:
    episodes, _ = sim_episodes
    original = min(p for p in episodes.iterdir() if (p / "metadata.yaml").is_file())
    stamps, vectors = joint_messages(original, STATE)
    hands_from = int(stamps[0]) + HANDS_LATE_NS
    split = rewrite(original, tmp_path / "split_joint_states", split_body_and_hands(hands_from))
    assert set.union(*first_joint_names(split, 3)) == set(SPEC.joint_names) - HANDS  # the bag really is split

    results = convert_bags([split], tmp_path / "ds", SPEC, ci_convert_config, progress=False)
    assert [r.status for r in results] == ["converted"], [r.message for r in results]
    table = episode_table(tmp_path / "ds", results[0].episode_index)
    times = table["observation.frame_time_ns"]
    assert times[0] >= hands_from, (f"frame 0 at {(times[0] - stamps[0]) / 1e9:.3f} s holds hand joints no message "
                                    f"has reported yet (first hand message at {HANDS_LATE_NS / 1e9:g} s)")
    one_period = np.abs(np.diff(np.array(vectors), axis=0)).max(axis=0)  # largest motion per slot, one message
    for t, row in zip(times, table["observation.state"]):
        latest = vectors[int(np.searchsorted(stamps, t, side="right")) - 1]  # the original at or before t
        assert np.all(np.abs(row - latest) <= one_period + 1e-6), t
