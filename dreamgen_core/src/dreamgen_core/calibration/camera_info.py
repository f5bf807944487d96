"""Camera intrinsics in the ROS `camera_info` YAML format (camera_calibration_parsers).

The same file serves the real head camera (from `dreamgen calibrate camera`) and the simulated one
(from the MuJoCo camera's field of view), so every consumer reads intrinsics one way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.config import ConfigError, build, read_yaml


@dataclass(frozen=True)
class Matrix:
    rows: int
    cols: int
    data: tuple[float, ...]


@dataclass(frozen=True)
class CameraInfoFile:
    image_width: int
    image_height: int
    camera_name: str
    camera_matrix: Matrix
    distortion_model: str
    distortion_coefficients: Matrix
    rectification_matrix: Matrix
    projection_matrix: Matrix


@dataclass(frozen=True)
class CameraInfo:
    """Pinhole intrinsics with distortion; arrays shaped as in sensor_msgs/CameraInfo (k, d, r, p)."""

    width: int
    height: int
    name: str
    k: np.ndarray  # 3x3
    d: np.ndarray  # (5,) plumb_bob
    r: np.ndarray  # 3x3
    p: np.ndarray  # 3x4
    distortion_model: str = "plumb_bob"

    @property
    def fx(self) -> float:
        return float(self.k[0, 0])

    @property
    def fy(self) -> float:
        return float(self.k[1, 1])

    def scaled(self, width: int, height: int) -> CameraInfo:
        """The same camera at another resolution (pixel intrinsics scale, distortion does not)."""
        sx, sy = width / self.width, height / self.height
        scale = np.diag([sx, sy, 1.0])
        return CameraInfo(width, height, self.name, scale @ self.k, self.d.copy(), self.r.copy(),
                          scale @ self.p, self.distortion_model)


def pinhole_from_fovy(width: int, height: int, fovy_deg: float, name: str) -> CameraInfo:
    """Ideal camera with MuJoCo's convention: `fovy` is the vertical field of view, square pixels,
    principal point at the image centre."""
    f = (height / 2.0) / math.tan(math.radians(fovy_deg) / 2.0)
    k = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
    return CameraInfo(width, height, name, k, np.zeros(5), np.eye(3), np.hstack([k, np.zeros((3, 1))]))


def _matrix(m: Matrix, source: str, key: str) -> np.ndarray:
    if m.rows * m.cols != len(m.data):
        raise ConfigError(source, f"{key}.data", len(m.data), f"expected rows*cols = {m.rows * m.cols} values")
    return np.asarray(m.data, dtype=np.float64).reshape(m.rows, m.cols)


def load_camera_info(path: Path) -> CameraInfo:
    raw = build(CameraInfoFile, read_yaml(path), path.name)
    k = _matrix(raw.camera_matrix, path.name, "camera_matrix")
    if k.shape != (3, 3) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise ConfigError(path.name, "camera_matrix", raw.camera_matrix.data, "must be 3x3 with fx, fy > 0")
    return CameraInfo(raw.image_width, raw.image_height, raw.camera_name, k,
                      _matrix(raw.distortion_coefficients, path.name, "distortion_coefficients").ravel(),
                      _matrix(raw.rectification_matrix, path.name, "rectification_matrix"),
                      _matrix(raw.projection_matrix, path.name, "projection_matrix"), raw.distortion_model)


def dump_camera_info(info: CameraInfo) -> str:
    def matrix(a: np.ndarray) -> dict:
        a = np.atleast_2d(a)
        return {"rows": a.shape[0], "cols": a.shape[1], "data": [float(x) for x in a.ravel()]}
    return yaml.safe_dump({
        "image_width": info.width, "image_height": info.height, "camera_name": info.name,
        "camera_matrix": matrix(info.k), "distortion_model": info.distortion_model,
        "distortion_coefficients": matrix(info.d), "rectification_matrix": matrix(info.r),
        "projection_matrix": matrix(info.p)}, sort_keys=False)


def write_camera_info(path: Path, info: CameraInfo) -> None:
    write_text_atomic(path, dump_camera_info(info))
