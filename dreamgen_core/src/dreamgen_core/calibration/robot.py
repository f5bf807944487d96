"""Robot calibration files beyond intrinsics: head-camera extrinsics and joint-zero offsets.

Both are small YAML files in calibration/, loaded once into frozen dataclasses and validated
against the embodiment (camera key, URDF link, joint names), so a renamed joint or link fails at
load with the file and key named, not as a silently ignored entry. `status` says whether the
numbers were measured on this robot or are nominal placeholders; consumers that need metric
accuracy can refuse nominal files.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from dreamgen_core.config import ConfigError, build, read_yaml
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.embodiment.assets import urdf_path

T = TypeVar("T")
Status = Literal["nominal", "measured"]
UNIT_QUATERNION_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CameraExtrinsics:
    """Pose of a camera's optical frame (REP 103 `_optical`: x right, y down, z forward) in
    `parent_link`: translation in metres, rotation as a unit quaternion x, y, z, w."""

    camera: str
    parent_link: str
    translation_xyz_m: tuple[float, ...]
    rotation_xyzw: tuple[float, ...]
    status: Status
    method: str


@dataclass(frozen=True)
class JointOffsets:
    """Per-joint zero offsets in rad: true joint angle = driver reading + offset (joints not
    listed have offset 0); a driver bridge adds them to readings and subtracts them from commands."""

    embodiment: str
    status: Status
    method: str
    offsets_rad: dict[str, float]

    def offset(self, joint: str) -> float:
        return self.offsets_rad.get(joint, 0.0)


def load_camera_extrinsics(path: Path, spec: Embodiment) -> CameraExtrinsics:
    raw = _load(CameraExtrinsics, path)
    source = path.name
    if raw.camera not in spec.cameras:
        raise ConfigError(source, "camera", raw.camera,
                          f"embodiment {spec.name!r} has cameras {sorted(spec.cameras)}")
    _finite_vector(raw.translation_xyz_m, 3, source, "translation_xyz_m")
    _finite_vector(raw.rotation_xyzw, 4, source, "rotation_xyzw")
    norm = math.sqrt(sum(q * q for q in raw.rotation_xyzw))
    if abs(norm - 1.0) > UNIT_QUATERNION_TOLERANCE:
        raise ConfigError(source, "rotation_xyzw", list(raw.rotation_xyzw),
                          f"must be a unit quaternion (norm {norm:.4f})")
    links = {link.get("name") for link in ET.parse(urdf_path(spec)).getroot().iter("link")}
    if raw.parent_link not in links:
        raise ConfigError(source, "parent_link", raw.parent_link,
                          f"no such link in the URDF of embodiment {spec.name!r}")
    return raw


def load_joint_offsets(path: Path, spec: Embodiment) -> JointOffsets:
    raw = _load(JointOffsets, path)
    source = path.name
    if raw.embodiment != spec.name:
        raise ConfigError(source, "embodiment", raw.embodiment, f"offsets are for another robot than {spec.name!r}")
    for name, value in raw.offsets_rad.items():
        if name not in spec.joints:
            raise ConfigError(source, f"offsets_rad.{name}", value, f"no joint {name!r} in embodiment {spec.name!r}")
        if not math.isfinite(value):
            raise ConfigError(source, f"offsets_rad.{name}", value, "must be a finite number of radians")
    return raw


def _load(cls: type[T], path: Path) -> T:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(path.name, "", data, f"must be a YAML mapping ({cls.__name__})")
    return build(cls, data, path.name)


def _finite_vector(values: tuple[float, ...], length: int, source: str, key: str) -> None:
    if len(values) != length or not all(math.isfinite(v) for v in values):
        raise ConfigError(source, key, list(values), f"must be {length} finite numbers")
