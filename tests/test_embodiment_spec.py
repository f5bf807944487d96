"""The embodiment spec: the GR00T GR1 layout, placement by name and driver order/units."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dreamgen_core.embodiment import available, load_embodiment, resolve

# DREAMGEN_CONTRACT.md §3: the GR00T GR1 layout, state and action alike.
GR1_SLICES = {"left_arm": (0, 7), "left_hand": (7, 13), "left_leg": (13, 19), "neck": (19, 22),
              "right_arm": (22, 29), "right_hand": (29, 35), "right_leg": (35, 41), "waist": (41, 44)}


@pytest.fixture(scope="module")
def gr1():
    return load_embodiment("gr1")


def test_shipped_specs_all_load() -> None:
    assert {"gr1", "ur5e_2f85"} <= set(available())
    for name in available():
        spec = load_embodiment(name)
        assert spec.dim == len(spec.joint_names) == len(spec.joints)
        assert len(spec.content_hash) == 64


def test_gr1_layout_is_the_groot_layout(gr1) -> None:
    assert gr1.dim == 44
    assert [(g.group, (g.start, g.end)) for g in gr1.layout] == list(GR1_SLICES.items())
    modality = gr1.modality()
    for part in ("state", "action"):
        assert {k: (v["start"], v["end"]) for k, v in modality[part].items()} == GR1_SLICES
    assert modality["video"] == {"ego_view": {"original_key": "observation.images.ego_view"}}
    assert set(modality["annotation"]) == {"human.action.task_description", "human.validity"}


def test_gr1_groups_hold_the_contract_joints(gr1) -> None:
    groups = {g.group: g.joints for g in gr1.layout}
    assert groups["left_arm"] == tuple(f"left_{j}_joint" for j in (
        "shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow_pitch", "wrist_yaw", "wrist_roll", "wrist_pitch"))
    assert groups["left_leg"] == tuple(f"left_{j}_joint" for j in (
        "hip_roll", "hip_yaw", "hip_pitch", "knee_pitch", "ankle_pitch", "ankle_roll"))
    assert groups["neck"] == ("head_yaw_joint", "head_roll_joint", "head_pitch_joint")
    assert groups["waist"] == ("waist_yaw_joint", "waist_pitch_joint", "waist_roll_joint")
    assert groups["right_arm"] == tuple(n.replace("left", "right") for n in groups["left_arm"])
    assert all(n.startswith("L_") for n in groups["left_hand"]) and len(groups["left_hand"]) == 6


def test_gr1_hand_commands_are_separate_from_hand_state(gr1) -> None:
    for group in ("left_hand", "right_hand"):
        for name in next(g for g in gr1.layout if g.group == group).joints:
            joint = gr1.joints[name]
            assert joint.command is not None and joint.command.units != "rad"
    assert all(gr1.joints[n].command is None for n in gr1.joints if not n.startswith(("L_", "R_")))


def test_place_puts_joints_by_name_whatever_the_message_order(gr1) -> None:
    names = list(reversed(gr1.joint_names))
    values = [float(gr1.slot(n)) for n in names]
    placed = gr1.place([*names, "unknown_joint"], [*values, 9.0])
    np.testing.assert_array_equal(placed.vector, np.arange(44, dtype=float))
    assert placed.missing == () and placed.unknown == ("unknown_joint",)
    partial = gr1.place(["waist_roll_joint"], [0.5])
    assert partial.vector[43] == 0.5 and len(partial.missing) == 43


def test_fourier_grx_driver_order_and_degrees(gr1) -> None:
    driver = gr1.drivers["body"]
    assert driver.units == "deg" and len(driver.joint_order) == 32
    # Contract §4: left leg, right leg, waist yaw/pitch/roll, head pitch/roll/yaw, left arm, right arm.
    assert driver.joint_order[:6] == next(g for g in gr1.layout if g.group == "left_leg").joints
    assert driver.joint_order[12:18] == ("waist_yaw_joint", "waist_pitch_joint", "waist_roll_joint",
                                         "head_pitch_joint", "head_roll_joint", "head_yaw_joint")
    native = np.arange(32, dtype=float)  # degrees
    positions = gr1.from_driver("body", native)
    assert positions["head_yaw_joint"] == pytest.approx(math.radians(17))
    assert positions["right_wrist_pitch_joint"] == pytest.approx(math.radians(31))
    np.testing.assert_allclose(gr1.to_driver("body", positions), native)
    with pytest.raises(ValueError, match="sends 32 values, got 31"):
        gr1.from_driver("body", native[:31])


def test_content_hash_ignores_formatting_but_not_content(tmp_path, gr1) -> None:
    text = tmp_path / "gr1.yaml"
    source = resolve("gr1").read_text()
    text.write_text("# a new comment\n" + source)
    assert load_embodiment(text).content_hash == gr1.content_hash
    text.write_text(source.replace("position_margin: 0.05", "position_margin: 0.06"))
    assert load_embodiment(text).content_hash != gr1.content_hash


def test_unknown_embodiment_lists_the_shipped_ones() -> None:
    with pytest.raises(FileNotFoundError, match="no embodiment named 'gr2'; shipped: .*gr1"):
        load_embodiment("gr2")
