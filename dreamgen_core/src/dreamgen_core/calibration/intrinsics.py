"""Camera intrinsics from photos of a checkerboard (OpenCV), as a ROS camera_info.

The real head camera's intrinsics come from here; the simulated camera's come from its field of
view (`pinhole_from_fovy`), and the tests check this estimator against that one on MuJoCo renders.
Images where the board is not found are reported with the reason rather than failing the run:
a few blurred shots out of twenty are normal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dreamgen_core.calibration.camera_info import CameraInfo

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MIN_VIEWS = 5  # fewer views leave the focal length poorly constrained against distortion
# Sub-pixel refinement window and stop rule, as OpenCV's calibration sample uses them.
SUBPIX_WINDOW = (11, 11)
SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
# k3 is barely observable for a head camera's moderate field of view; fitting it trades focal
# length accuracy for noise, so it is fixed at 0 (camera_calibration in ROS does the same).
CALIBRATE_FLAGS = cv2.CALIB_FIX_K3


class CalibrationError(ValueError):
    """The images cannot produce a calibration; the message says which file or what is missing."""


@dataclass(frozen=True)
class Board:
    """A checkerboard by its inner corners (columns x rows) and square side in metres."""

    cols: int
    rows: int
    square_m: float

    @classmethod
    def parse(cls, text: str, square_m: float) -> Board:
        match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
        if not match or min(int(match[1]), int(match[2])) < 2:
            raise CalibrationError(f"board {text!r}: expected inner corners as COLSxROWS, e.g. 9x6")
        if not square_m > 0:
            raise CalibrationError(f"square size {square_m}: must be > 0 metres")
        return cls(int(match[1]), int(match[2]), square_m)

    def object_points(self) -> np.ndarray:
        """Corner positions on the board plane (z = 0), in OpenCV's row-major corner order."""
        grid = np.mgrid[0:self.cols, 0:self.rows].T.reshape(-1, 2) * self.square_m
        return np.hstack([grid, np.zeros((len(grid), 1))]).astype(np.float32)


@dataclass(frozen=True)
class Calibration:
    info: CameraInfo
    rms_px: float
    used: tuple[Path, ...]
    rejected: tuple[tuple[Path, str], ...]  # (image, why it was not used)


def expand_images(paths: Sequence[Path]) -> list[Path]:
    """Files as given; directories expand to their image files, sorted."""
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            images += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            images.append(path)
        else:
            raise FileNotFoundError(f"image {path} does not exist")
    if not images:
        raise CalibrationError(f"no images in {', '.join(map(str, paths)) or 'the arguments'} "
                               f"(looked for {', '.join(IMAGE_SUFFIXES)})")
    return images


def read_gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise CalibrationError(f"{path}: not a readable image")
    return image


def find_corners(gray: np.ndarray, board: Board) -> np.ndarray | None:
    """Sub-pixel inner corners of the board, or None when the whole board is not visible."""
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH + cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCorners(gray, (board.cols, board.rows), flags=flags)
    if not found:
        return None
    return cv2.cornerSubPix(gray, corners, SUBPIX_WINDOW, (-1, -1), SUBPIX_CRITERIA)


def calibrate(paths: Sequence[Path], board: Board, name: str) -> Calibration:
    """Estimate pinhole intrinsics with plumb_bob distortion from checkerboard images."""
    used, rejected, corners = [], [], []
    size: tuple[int, int] | None = None
    for path in expand_images(paths):
        gray = read_gray(path)
        height, width = gray.shape
        if size is not None and (width, height) != size:
            rejected.append((path, f"size {width}x{height} differs from {size[0]}x{size[1]} of the images before it"))
            continue
        found = find_corners(gray, board)
        if found is None:
            rejected.append((path, f"{board.cols}x{board.rows} board not found"))
            continue
        size = (width, height)
        used.append(path)
        corners.append(found)
    if len(used) < MIN_VIEWS:
        raise CalibrationError(f"the {board.cols}x{board.rows} board was found in {len(used)} of "
                               f"{len(used) + len(rejected)} images; need at least {MIN_VIEWS}")
    assert size is not None
    objects = [board.object_points()] * len(corners)
    rms, k, d, _, _ = cv2.calibrateCamera(objects, corners, size, None, None, flags=CALIBRATE_FLAGS)
    info = CameraInfo(size[0], size[1], name, k, d.ravel()[:5], np.eye(3), np.hstack([k, np.zeros((3, 1))]))
    return Calibration(info, float(rms), tuple(used), tuple(rejected))
