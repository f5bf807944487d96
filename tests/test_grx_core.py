"""The GR1 bridge's pure parts: body order/units/offsets, hand units, link liveness, Zenoh config checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import zenoh

from dreamgen_core.calibration.robot import JointOffsets
from dreamgen_core.config import ConfigError
from dreamgen_core.drivers.body_units import BodyUnits
from dreamgen_core.drivers.driver import Link
from dreamgen_core.drivers.gr1_grx import Gr1GrxDriver, GrxSettings
from dreamgen_core.drivers.hands import HandUnits
from dreamgen_core.drivers.link import LinkMonitor
from dreamgen_core.drivers.zenoh_config import loopback_problems, server_config
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.stack import argument_overrides, load_stack, plan

REPO = Path(__file__).resolve().parents[1]
SPEC = load_embodiment("gr1")
OFFSETS = JointOffsets("gr1", "measured", "test", {"left_elbow_pitch_joint": 0.05, "waist_yaw_joint": -0.02})


def test_body_reading_is_named_radians_in_driver_order_with_offsets() -> None:
    body = BodyUnits(SPEC, OFFSETS)
    reading = np.arange(32, dtype=float)  # degrees; index i is joint_order[i]
    positions = body.positions(reading)
    # The client library's docstring order: 3 = l_knee_pitch, 12 = waist_yaw, 21 = l_elbow_pitch, 31 = r_wrist_pitch.
    assert positions["left_knee_pitch_joint"] == pytest.approx(math.radians(3))
    assert positions["waist_yaw_joint"] == pytest.approx(math.radians(12) - 0.02)
    assert positions["left_elbow_pitch_joint"] == pytest.approx(math.radians(21) + 0.05)
    assert positions["right_wrist_pitch_joint"] == pytest.approx(math.radians(31))
    assert len(positions) == 32 and not any(n.startswith(("L_", "R_")) for n in positions)
    assert body.velocities(reading)["left_elbow_pitch_joint"] == pytest.approx(math.radians(21))  # no offset


def test_body_command_undoes_the_reading() -> None:
    body = BodyUnits(SPEC, OFFSETS)
    reading = np.linspace(-40, 40, 32)
    np.testing.assert_allclose(body.command(body.positions(reading)), reading, atol=1e-9)
    targets = {n: 0.0 for n in body.joint_order}
    targets["left_elbow_pitch_joint"] = -1.0
    vector = body.command(targets)
    assert vector[21] == pytest.approx(math.degrees(-1.0 - 0.05))
    assert vector[12] == pytest.approx(math.degrees(0.02))
    del targets["head_yaw_joint"]
    with pytest.raises(KeyError, match="head_yaw_joint"):
        body.command(targets)


def test_hand_units_map_open_and_closed_to_the_command_range() -> None:
    left = HandUnits(SPEC, "left")
    assert left.names == list(next(g for g in SPEC.layout if g.group == "left_hand").joints)
    open_hand = {n: 0.0 for n in left.names}
    assert left.to_sdk(open_hand) == [0.0] * 6
    closed = {n: (SPEC.joints[n].lower if SPEC.joints[n].lower < 0 else SPEC.joints[n].upper) for n in left.names}
    assert left.to_sdk(closed) == pytest.approx([1.0] * 6)
    half = {n: v / 2 for n, v in closed.items()}
    assert left.to_sdk(half) == pytest.approx([0.5] * 6)
    # Beyond a limit is clipped into the SDK's range, never sent outside it.
    beyond = {n: v * 3 for n, v in closed.items()}
    beyond["L_thumb_proximal_pitch_joint"] = -0.5  # past open, the other way
    sdk = left.to_sdk(beyond)
    assert all(0.0 <= v <= 1.0 for v in sdk) and sdk[4] == 0.0 and sdk[0] == 1.0
    back = left.from_sdk([0.25] * 6)
    assert back == pytest.approx({n: v / 4 for n, v in closed.items()})
    with pytest.raises(ValueError, match="5 values, expected 6"):
        left.from_sdk([0.0] * 5)


def test_link_goes_lost_after_silence_and_is_due_a_reconnect() -> None:
    link = LinkMonitor(stale_after_s=0.1, reconnect_after_s=3.0)
    assert link.state is Link.CONNECTING and link.check(100.0) is None  # no sample yet: not "lost"
    assert link.sample(1.0) is Link.UP and link.sample(1.05) is None
    assert link.check(1.14) is None
    assert link.check(1.16) is Link.LOST and link.losses == 1 and link.check(1.2) is None
    assert not link.reconnect_due(4.0) and link.reconnect_due(4.2)
    link.restarted(4.2)
    assert not link.reconnect_due(7.0) and link.reconnect_due(7.3)
    assert link.sample(7.5) is Link.UP and not link.reconnect_due(100.0)


def test_loopback_check_flags_scouting_and_outside_endpoints() -> None:
    assert loopback_problems(server_config("127.0.0.7")) == []
    open_config = zenoh.Config()  # zenoh's defaults: scouting unset, a peer listens everywhere
    found = loopback_problems(open_config)
    assert any("multicast" in p for p in found) and any("gossip" in p for p in found)
    assert any("listen/endpoints is empty" in p for p in found)
    lan = server_config("127.0.0.7")
    lan.insert_json5("connect/endpoints", json.dumps(["tcp/192.168.6.6:7447"]))
    assert loopback_problems(lan) == ["connect/endpoints has tcp/192.168.6.6:7447, not a loopback address"]


def test_unknown_hand_adapter_is_a_config_error_listing_the_known() -> None:
    with pytest.raises(ConfigError, match="gr1_driver: hands: 'inspire'.*fourier_dhx, standin"):
        Gr1GrxDriver(SPEC, OFFSETS, GrxSettings(hands="inspire"))


def test_collect_stack_plans_the_bridge_only_for_robot_grx() -> None:
    stack = load_stack(REPO / "ros2_ws" / "src" / "dreamgen" / "config" / "collect.yaml")
    share = Path("/share")
    default = {n.name: n.parameters for n in plan(stack, sim=True, embodiment="gr1", share_dir=share)}
    assert "gr1_driver" not in default and "joint_interface" not in default["sim_robot"]
    grx_sim = {n.name: n.parameters for n in plan(stack, sim=True, embodiment="gr1", share_dir=share, robot="grx",
                                                   overrides=argument_overrides(stack, {"robot_ip": "127.0.0.9"}))}
    assert grx_sim["sim_robot"]["joint_interface"] == "grx" and grx_sim["sim_robot"]["grx_address"] == "127.0.0.9"
    assert grx_sim["gr1_driver"]["server_ip"] == "127.0.0.9" and grx_sim["gr1_driver"]["use_sim_time"] is True
    assert grx_sim["gr1_driver"]["offsets_file"] == "/share/calibration/gr1_joint_offsets.yaml"
    real = [n.name for n in plan(stack, sim=False, embodiment="gr1", share_dir=share, robot="grx")]
    assert real == ["gr1_driver", "safety_monitor", "episode_recorder"]
    with pytest.raises(KeyError, match=r"no robot interface 'ur'; known: \['grx'\]"):
        plan(stack, sim=False, embodiment="gr1", share_dir=share, robot="ur")
