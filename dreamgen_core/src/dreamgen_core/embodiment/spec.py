"""The embodiment spec: one typed description of a robot that every part of dreamgen reads.

Recorder, converter, modality.json, IDM, policy I/O, safety envelope and simulator all take joint
order, limits, cameras, rates and topic names from here, so nothing hard-codes an index. Joints
travel by name and are placed into the flat GR00T state/action vector by name (`place`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

DriverUnits = Literal["rad", "deg"]
TO_RADIANS = {"rad": 1.0, "deg": float(np.pi / 180.0)}


@dataclass(frozen=True)
class Source:
    """Where the limits come from; `package`/`urdf` let tests and the simulator find the file."""

    reference: str
    package: str | None = None
    version: str | None = None
    urdf: str | None = None


@dataclass(frozen=True)
class CommandRange:
    """Range of commands in driver units, for joints whose commands are not joint angles (hands)."""

    lower: float
    upper: float
    units: str


@dataclass(frozen=True)
class Joint:
    """Measured-state limits of one joint in radians; `margin` overrides the spec-wide margin."""

    lower: float
    upper: float
    velocity: float
    effort: float | None = None
    velocity_source: str = "urdf"
    margin: float | None = None
    command: CommandRange | None = None


@dataclass(frozen=True)
class Group:
    """A named slice [start, end) of the flat state/action vector, joints in slot order."""

    group: str
    start: int
    end: int
    joints: tuple[str, ...]


@dataclass(frozen=True)
class ModelView:
    """How a native camera frame becomes the model's view: crop → resize → pad rows → resize.

    Crop bounds are pixels of the native frame and apply as ratios, so any resolution works.
    """

    video_key: str
    crop_rows: tuple[int, int]  # pairs: the builder reads any length, validate() insists on two
    crop_cols: tuple[int, int]
    resize_hw: tuple[int, int]
    pad_rows: int
    size_hw: tuple[int, int]


@dataclass(frozen=True)
class Camera:
    topic: str
    compressed_topic: str
    info_topic: str
    width: int
    height: int
    rate_hz: float
    encoding: Literal["rgb8"]
    model_view: ModelView
    raw_video_key: str | None = None  # dataset key of the raw camera video beside the model view


@dataclass(frozen=True)
class Rates:
    dataset_fps: float
    control_hz: float
    joint_states_min_hz: float


@dataclass(frozen=True)
class Topic:
    name: str
    type: str


@dataclass(frozen=True)
class RosTopics:
    joint_states: Topic
    teleop_command: Topic
    policy_command: Topic
    robot_command: Topic
    estop: Topic
    diagnostics: Topic
    clock: Topic


@dataclass(frozen=True)
class Driver:
    """A real device's native joint order and position units (what its SDK sends and expects)."""

    name: str
    units: str
    joint_order: tuple[str, ...]
    notes: str = ""


@dataclass(frozen=True)
class Safety:
    position_margin: float
    velocity_scale: float
    # Command silence after which the safety monitor holds. Until then the robot still follows the
    # last command, so it is also the converter's default tolerance on the action's age.
    source_timeout_s: float
    # Joint-state silence after which the measured pose is no longer trusted: the monitor holds its
    # last sent target and passes no command until joint states return (a lost robot link).
    stale_joint_states_s: float = 0.1
    # The deploy envelope (defaults for specs that predate it). Acceleration bounds the change of a
    # target's per-step velocity; the step delta bounds any one step however late a command comes.
    max_acceleration: float = float("inf")  # rad/s^2
    max_step_delta: float = float("inf")  # rad per published command
    stale_camera_s: float = 0.5  # camera silence after which policy commands are held
    ramp_in_s: float = 2.0  # after operator enable, commands blend in from the measured pose
    chunk_max_age_s: float = 1.0  # policy commands from observations older than this are held


@dataclass(frozen=True)
class Placement:
    """A named joint vector placed into the layout; unused slots stay 0 and are listed."""

    vector: np.ndarray
    missing: tuple[str, ...]
    unknown: tuple[str, ...]
    filled: np.ndarray  # bool per slot: set by this message (a robot may send joints in several)


@dataclass(frozen=True)
class Embodiment:
    name: str
    robot_type: str
    description: str
    source: Source
    position_units: str
    joints: dict[str, Joint]
    layout: tuple[Group, ...]
    cameras: dict[str, Camera]
    rates: Rates
    ros: RosTopics
    drivers: dict[str, Driver]
    safety: Safety
    content_hash: str = field(default="", init=False, compare=False)

    @property
    def dim(self) -> int:
        """Length of the flat state/action vector."""
        return self.layout[-1].end

    @cached_property
    def joint_names(self) -> tuple[str, ...]:
        """Joint names in slot order: joint_names[i] fills vector index i."""
        return tuple(name for group in self.layout for name in group.joints)

    @cached_property
    def _slot(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.joint_names)}

    def slot(self, joint: str) -> int:
        try:
            return self._slot[joint]
        except KeyError:
            raise KeyError(f"embodiment {self.name!r} has no joint {joint!r}") from None

    def margin(self, joint: str) -> float:
        j = self.joints[joint]
        return self.safety.position_margin if j.margin is None else j.margin

    def place(self, names: Sequence[str], values: Sequence[float]) -> Placement:
        """Place `values` of joints `names` (any order) into the layout by name."""
        if len(names) != len(values):
            raise ValueError(f"{len(names)} joint names but {len(values)} values")
        vector = np.zeros(self.dim, dtype=np.float64)
        filled = np.zeros(self.dim, dtype=bool)
        unknown = []
        for name, value in zip(names, values):
            index = self._slot.get(name)
            if index is None:
                unknown.append(name)
                continue
            vector[index] = value
            filled[index] = True
        missing = tuple(n for n, f in zip(self.joint_names, filled) if not f)
        return Placement(vector, missing, tuple(unknown), filled)

    def from_driver(self, driver: str, values: Sequence[float]) -> dict[str, float]:
        """A driver's native vector (its order, its units) as joint positions in radians by name."""
        d = self.drivers[driver]
        if len(values) != len(d.joint_order):
            raise ValueError(f"driver {driver!r} sends {len(d.joint_order)} values, got {len(values)}")
        scale = TO_RADIANS[d.units]
        return {name: float(v) * scale for name, v in zip(d.joint_order, values)}

    def to_driver(self, driver: str, positions: Mapping[str, float]) -> np.ndarray:
        """Joint positions in radians by name as the driver's native vector (its order and units)."""
        d = self.drivers[driver]
        missing = [n for n in d.joint_order if n not in positions]
        if missing:
            raise KeyError(f"driver {driver!r} needs joints {missing}")
        scale = TO_RADIANS[d.units]
        return np.array([positions[n] / scale for n in d.joint_order], dtype=np.float64)

    def modality(self) -> dict:
        """GR00T's meta/modality.json for this embodiment (state and action share the layout)."""
        slices = {g.group: {"start": g.start, "end": g.end} for g in self.layout}
        return {
            "state": slices,
            "action": {k: dict(v) for k, v in slices.items()},
            "video": {key: {"original_key": cam.model_view.video_key} for key, cam in self.cameras.items()},
            "annotation": {"human.action.task_description": {}, "human.validity": {}},
        }
