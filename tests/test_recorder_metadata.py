"""Episode metadata: one dataclass written by the recorder and read back by recovery, `bag info` and convert."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from test_bag_core import TOPICS, write_some

from dreamgen_core.bag import BagError, BagWriter, read_info
from dreamgen_core.recording import EpisodeMeta, Outcome, Verdict

META = EpisodeMeta(instruction="pick the apple", operator="ana", embodiment="gr1", embodiment_hash="abc",
                   start_time="2026-01-01T00:00:00.000Z", start_ns=1_767_225_600_000_000_000,
                   topics=[{"topic": "/joint_states", "type": "sensor_msgs/msg/JointState"}],
                   qa_config={"max_missing": 0}, outcome=Outcome.FAILURE, duration_s=3.25,
                   qa_verdict=Verdict.NEEDS_REVIEW, qa_reasons=["/joint_states: 2 messages missing"],
                   qa={"/joint_states": {"count": 3}})


def test_custom_data_holds_plain_strings_and_reads_back_equal() -> None:
    custom = META.custom_data()
    assert yaml.safe_load(yaml.safe_dump(custom)) == custom  # plain strings: rosbag2 and YAML are happy
    assert custom["outcome"] == "failure" and custom["qa_verdict"] == "needs_review"
    assert json.loads(custom["qa_reasons"]) == ["/joint_states: 2 messages missing"]
    assert EpisodeMeta.from_custom_data(custom) == META
    assert f"{Outcome.SUCCESS} {Verdict.OK}" == "success ok"


def test_an_open_episode_writes_only_what_is_known_at_start() -> None:
    start = EpisodeMeta(instruction="pick", start_ns=5).custom_data()
    assert "outcome" not in start and "qa_verdict" not in start and start["start_ns"] == "5"
    assert EpisodeMeta.from_custom_data(start).outcome is None


@pytest.mark.parametrize(("key", "value", "message"), [
    ("outcome", "won", "outcome: 'won': not one of success, failure, interrupted, recovered, discarded"),
    ("qa_verdict", "fine", "qa_verdict: 'fine': not one of ok, needs_review"),
    ("qa_reasons", "[oops", "qa_reasons: '[oops': not valid JSON"),
])
def test_bad_values_are_named(key: str, value: str, message: str) -> None:
    with pytest.raises(BagError, match="^ep/metadata.yaml: " + message.replace("[", r"\[")):
        EpisodeMeta.from_custom_data({**META.custom_data(), key: value}, "ep/metadata.yaml")


def test_bag_info_shows_the_metadata_and_names_a_bad_outcome(tmp_path: Path, cli: Path) -> None:
    bag = tmp_path / "ep"
    writer = BagWriter(bag, "ep", TOPICS, "none", META.custom_data())
    write_some(writer, 10**18, 5)
    writer.close(META.custom_data())
    out = subprocess.run([str(cli), "bag", "info", "--json", str(bag)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)["metadata"]
    assert shown["outcome"] == "failure" and shown["qa_reasons"] == META.qa_reasons and shown["duration_s"] == 3.25
    table = subprocess.run([str(cli), "bag", "info", str(bag)], capture_output=True, text=True).stdout
    assert "  outcome: failure" in table and "  QA: needs_review" in table
    (bag / "metadata.yaml").write_text((bag / "metadata.yaml").read_text().replace("outcome: failure", "outcome: won"))
    assert read_info(bag).custom_data["outcome"] == "won"
    out = subprocess.run([str(cli), "bag", "info", str(bag)], capture_output=True, text=True)
    assert out.returncode == 2 and "outcome: 'won': not one of success" in out.stderr and str(bag) in out.stderr
