"""Semantic checks of an embodiment spec, run once at load.

The typed builder (`dreamgen_core.config`) already rejected unknown keys and wrong types; these
checks catch what types cannot: slices that gap or overlap, a joint placed twice, limits that
are inverted, a layout that is not in radians, a driver in units we cannot convert, a source
timeout the safety monitor could not honour between two control ticks. Each raises
a ConfigError naming the key and value, because a wrong spec silently mis-orders every dataset.
"""

from __future__ import annotations

import re

from dreamgen_core.config import ConfigError
from dreamgen_core.embodiment.spec import TO_RADIANS, Embodiment

_MSG_TYPE = re.compile(r"^[a-z][a-z0-9_]*/(msg|srv)/[A-Z][A-Za-z0-9]*$")


def validate(spec: Embodiment, source: str) -> None:
    if spec.position_units != "rad":
        raise ConfigError(source, "position_units", spec.position_units,
                          "wrong units: the GR00T state/action layout holds absolute joint positions in 'rad'")
    _check_joints(spec, source)
    _check_layout(spec, source)
    _check_cameras(spec, source)
    _check_rates(spec, source)
    _check_topics(spec, source)
    _check_drivers(spec, source)
    _check_safety(spec, source)


def _check_joints(spec: Embodiment, source: str) -> None:
    for name, j in spec.joints.items():
        key = f"joints.{name}"
        if not j.lower < j.upper:
            raise ConfigError(source, f"{key}.lower", j.lower, f"lower must be < upper ({j.upper})")
        if not j.velocity > 0:
            raise ConfigError(source, f"{key}.velocity", j.velocity, "velocity limit must be > 0 rad/s")
        margin = spec.margin(name)
        if margin < 0 or 2 * margin >= j.upper - j.lower:
            raise ConfigError(source, f"{key}.margin", margin,
                              f"margin must be >= 0 and leave room inside [{j.lower}, {j.upper}]")
        if j.command is not None and not j.command.lower < j.command.upper:
            raise ConfigError(source, f"{key}.command.lower", j.command.lower,
                              f"lower must be < upper ({j.command.upper})")


def _check_layout(spec: Embodiment, source: str) -> None:
    if not spec.layout:
        raise ConfigError(source, "layout", [], "needs at least one group")
    expected_start, groups = 0, set()
    seen: dict[str, str] = {}  # joint name -> the layout key that placed it
    for i, g in enumerate(spec.layout):
        key = f"layout[{i}]"
        if g.group in groups:
            raise ConfigError(source, f"{key}.group", g.group, "duplicate group name")
        groups.add(g.group)
        if g.start != expected_start:
            problem = "gap" if g.start > expected_start else "overlap"
            raise ConfigError(source, f"{key}.start", g.start,
                              f"{problem}: slices must tile the vector; previous group ends at {expected_start}")
        if g.end - g.start != len(g.joints):
            raise ConfigError(source, f"{key}.end", g.end,
                              f"slice [{g.start}:{g.end}) has {g.end - g.start} slots but {len(g.joints)} joints")
        for k, name in enumerate(g.joints):
            if name in seen:
                raise ConfigError(source, f"{key}.joints[{k}]", name, f"duplicate joint name (also in {seen[name]})")
            if name not in spec.joints:
                raise ConfigError(source, f"{key}.joints[{k}]", name, "not declared under joints")
            seen[name] = key
        expected_start = g.end
    unplaced = [n for n in spec.joints if n not in seen]
    if unplaced:
        raise ConfigError(source, f"joints.{unplaced[0]}", unplaced[0], "declared but not placed in the layout")


def _check_cameras(spec: Embodiment, source: str) -> None:
    if not spec.cameras:
        raise ConfigError(source, "cameras", {}, "missing camera: at least one camera is required")
    for name, cam in spec.cameras.items():
        key, view = f"cameras.{name}", cam.model_view
        if cam.width <= 0 or cam.height <= 0 or cam.rate_hz <= 0:
            raise ConfigError(source, key, (cam.width, cam.height, cam.rate_hz),
                              "width, height and rate_hz must be > 0")
        for axis, bounds, limit in (("crop_rows", view.crop_rows, cam.height), ("crop_cols", view.crop_cols, cam.width)):
            if len(bounds) != 2 or not 0 <= bounds[0] < bounds[1] <= limit:
                raise ConfigError(source, f"{key}.model_view.{axis}", list(bounds),
                                  f"must be [begin, end) with 0 <= begin < end <= {limit}")
        for axis, hw in (("resize_hw", view.resize_hw), ("size_hw", view.size_hw)):
            if len(hw) != 2 or min(hw) <= 0:
                raise ConfigError(source, f"{key}.model_view.{axis}", list(hw), "must be [height, width] > 0")
        if view.pad_rows < 0:
            raise ConfigError(source, f"{key}.model_view.pad_rows", view.pad_rows, "must be >= 0")


def _check_rates(spec: Embodiment, source: str) -> None:
    for name in ("dataset_fps", "control_hz", "joint_states_min_hz"):
        value = getattr(spec.rates, name)
        if value <= 0:
            raise ConfigError(source, f"rates.{name}", value, "must be > 0")


def _check_safety(spec: Embodiment, source: str) -> None:
    if not 0.0 < spec.safety.velocity_scale <= 1.0:
        raise ConfigError(source, "safety.velocity_scale", spec.safety.velocity_scale, "must be in (0, 1]")
    period = 1.0 / spec.rates.control_hz
    if not spec.safety.source_timeout_s > period:
        # Shorter than one control period, the monitor would hold between any two commands.
        raise ConfigError(source, "safety.source_timeout_s", spec.safety.source_timeout_s,
                          f"must be longer than one control period (1 / rates.control_hz = {period:g} s)")
    for key in ("max_acceleration", "max_step_delta", "stale_camera_s", "ramp_in_s", "chunk_max_age_s"):
        value = getattr(spec.safety, key)
        if not value > 0:
            raise ConfigError(source, f"safety.{key}", value, "must be > 0")


def _check_topics(spec: Embodiment, source: str) -> None:
    for name in ("joint_states", "teleop_command", "policy_command", "robot_command", "estop", "diagnostics", "clock"):
        topic = getattr(spec.ros, name)
        if not topic.name.startswith("/"):
            raise ConfigError(source, f"ros.{name}.name", topic.name, "topic names must be absolute")
        if not _MSG_TYPE.match(topic.type):
            raise ConfigError(source, f"ros.{name}.type", topic.type, "must look like 'sensor_msgs/msg/JointState'")


def _check_drivers(spec: Embodiment, source: str) -> None:
    for name, d in spec.drivers.items():
        key = f"drivers.{name}"
        if d.units not in TO_RADIANS:
            raise ConfigError(source, f"{key}.units", d.units, f"wrong units: must be one of {sorted(TO_RADIANS)}")
        seen = set()
        for k, joint in enumerate(d.joint_order):
            if joint in seen:
                raise ConfigError(source, f"{key}.joint_order[{k}]", joint, "duplicate joint name")
            if joint not in spec.joints:
                raise ConfigError(source, f"{key}.joint_order[{k}]", joint, "not declared under joints")
            seen.add(joint)
