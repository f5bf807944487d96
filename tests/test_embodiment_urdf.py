"""The GR1 limits in the spec are the manufacturer's: read the installed URDF and compare."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.embodiment.assets import urdf_path


@pytest.fixture(scope="module")
def urdf_joints() -> dict[str, ET.Element]:
    root = ET.parse(urdf_path(load_embodiment("gr1"))).getroot()
    return {j.get("name"): j for j in root.findall("joint")}


def test_urdf_is_the_gr1t2_with_fourier_6dof_hands() -> None:
    spec = load_embodiment("gr1")
    assert urdf_path(spec).name == "gr1t2_fourier_hand_6dof.urdf"
    assert spec.source.package == "fourier_robot_descriptions"


def test_every_spec_limit_equals_the_urdf(urdf_joints) -> None:
    spec = load_embodiment("gr1")
    for name, joint in spec.joints.items():
        urdf = urdf_joints[name]
        limit = urdf.find("limit")
        assert urdf.get("type") == "revolute", name
        assert urdf.find("mimic") is None, f"{name} is a mimic joint: not commandable"
        assert joint.lower == float(limit.get("lower")), name
        assert joint.upper == float(limit.get("upper")), name
        if joint.velocity_source == "urdf":
            assert joint.velocity == float(limit.get("velocity")), name
        else:  # only allowed where the URDF gives no velocity limit
            assert float(limit.get("velocity")) == 0.0, name
        if joint.effort is not None:
            assert joint.effort == float(limit.get("effort")), name


def test_every_actuated_urdf_joint_is_in_the_spec(urdf_joints) -> None:
    spec = load_embodiment("gr1")
    actuated = {n for n, j in urdf_joints.items() if j.get("type") != "fixed" and j.find("mimic") is None}
    assert actuated == set(spec.joints)
    assert len(actuated) == 44
