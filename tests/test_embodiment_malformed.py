"""Every malformed spec gets an error naming the file and the bad key (table-driven)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dreamgen_core.config import ConfigError
from dreamgen_core.embodiment import load_embodiment, resolve


def _set(path: str, value: object) -> Callable[[dict], None]:
    """Mutation that sets a dotted/indexed path (e.g. 'layout.1.start') in the parsed spec."""
    def mutate(raw: dict) -> None:
        *parents, last = path.split(".")
        node = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


def _delete(path: str) -> Callable[[dict], None]:
    def mutate(raw: dict) -> None:
        *parents, last = path.split(".")
        node = raw
        for part in parents:
            node = node[part]
        del node[last]
    return mutate


CASES = [
    # (case id, mutation, key named in the message, what the message says)
    ("unknown top-level key", _set("colour", "red"), "colour", "unknown key"),
    ("unknown joint key", _set("joints.left_elbow_pitch_joint.lowr", 1.0),
     "joints.left_elbow_pitch_joint.lowr", "unknown key"),
    ("gapped slices", _set("layout.1.start", 8), "layout[1].start", "gap"),
    ("overlapping slices", _set("layout.1.start", 6), "layout[1].start", "overlap"),
    ("slice size != joints", _set("layout.0.end", 8), "layout[0].end", "has 8 slots but 7 joints"),
    ("duplicate joint in layout", _set("layout.4.joints.0", "left_shoulder_pitch_joint"),
     "layout[4].joints[0]", "duplicate joint name"),
    ("joint not declared", _set("layout.0.joints.0", "left_shoulder_pitch"), "layout[0].joints[0]",
     "not declared under joints"),
    ("lower >= upper", _set("joints.left_elbow_pitch_joint.lower", 2.27), "joints.left_elbow_pitch_joint.lower",
     "lower must be < upper"),
    ("command lower >= upper", _set("joints.R_index_proximal_joint.command", {"lower": 1, "upper": 0, "units": "n"}),
     "joints.R_index_proximal_joint.command.lower", "lower must be < upper"),
    ("margin eats the range", _set("joints.head_roll_joint.margin", 0.4), "joints.head_roll_joint.margin",
     "leave room"),
    ("zero velocity", _set("joints.waist_yaw_joint.velocity", 0), "joints.waist_yaw_joint.velocity", "> 0"),
    ("missing camera", _set("cameras", {}), "cameras", "missing camera"),
    ("camera without topic", _delete("cameras.ego_view.topic"), "cameras.ego_view.topic", "missing required key"),
    ("crop outside the frame", _set("cameras.ego_view.model_view.crop_rows", [310, 900]),
     "cameras.ego_view.model_view.crop_rows", "<= 800"),
    ("layout not in radians", _set("position_units", "deg"), "position_units", "wrong units"),
    ("driver in unknown units", _set("drivers.body.units", "degrees"), "drivers.body.units", "wrong units"),
    ("driver joint unknown", _set("drivers.body.joint_order.0", "hip"), "drivers.body.joint_order[0]",
     "not declared"),
    ("rate of wrong type", _set("rates.dataset_fps", "twenty"), "rates.dataset_fps", "must be float"),
    ("malformed message type", _set("ros.joint_states.type", "JointState"), "ros.joint_states.type",
     "sensor_msgs/msg/JointState"),
    ("relative topic name", _set("ros.robot_command.name", "gr1/joint_command"), "ros.robot_command.name",
     "absolute"),
    ("source timeout missing", _delete("safety.source_timeout_s"), "safety.source_timeout_s", "missing required key"),
    ("source timeout within a control tick", _set("safety.source_timeout_s", 0.04), "safety.source_timeout_s",
     "must be longer than one control period (1 / rates.control_hz = 0.05 s)"),
    ("source timeout not a number", _set("safety.source_timeout_s", "250ms"), "safety.source_timeout_s",
     "must be float"),
    ("joint declared but unplaced", _set("joints.extra_joint", {"lower": 0, "upper": 1, "velocity": 1}),
     "joints.extra_joint", "not placed"),
]


@pytest.mark.parametrize(("mutate", "key", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_spec_names_file_and_key(tmp_path: Path, mutate, key: str, problem: str) -> None:
    raw = yaml.safe_load(resolve("gr1").read_text())
    mutate(raw)
    path = tmp_path / "broken_gr1.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_embodiment(path)
    message = str(err.value)
    assert message.startswith(f"broken_gr1.yaml: {key}:"), message
    assert problem in message, message


def test_duplicate_joint_name_in_the_joints_mapping(tmp_path: Path) -> None:
    text = resolve("gr1").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("  left_elbow_pitch_joint:"))
    path = tmp_path / "dup_gr1.yaml"
    path.write_text(text.replace(line, line + "\n" + line))
    with pytest.raises(ConfigError, match=r"^dup_gr1.yaml: line \d+: invalid YAML: duplicate key "
                                          r"'left_elbow_pitch_joint'"):
        load_embodiment(path)


def test_the_unmodified_spec_loads(tmp_path: Path) -> None:
    # Guards the table above: the round trip through yaml.safe_dump alone must not break the spec.
    path = tmp_path / "gr1_roundtrip.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(resolve("gr1").read_text()), sort_keys=False))
    assert load_embodiment(path).dim == 44
