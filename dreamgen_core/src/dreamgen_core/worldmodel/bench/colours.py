"""Where the sim's coloured objects are in a video frame: colour masks that survive h264 and 64 px.

The colours are the sim model's own (`sim.model.CUBE_RGBA`, `TARGET_RGBA`). Shading changes an
object's brightness far more than its hue, and h264's 4:2:0 chroma blurs colour edges, so a pixel
belongs to an object when its hue is within `HUE_TOLERANCE` of the object's and it keeps most of
the object's saturation: the brown table (hue between red and yellow, about half their
saturation) and the grey robot fall outside every mask. The robot's pixels are the unsaturated or
dark ones; `shows_background` tells an object hidden behind the arm from one that vanished.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

from dreamgen_core.sim.model import CUBE_RGBA, TARGET_RGBA

HUE_TOLERANCE = 8         # OpenCV hue units (2° each)
MIN_SATURATION = 0.55     # of the object's own saturation
MIN_VALUE = 0.3           # of the object's own brightness
ROBOT_SATURATION = 60     # OpenCV saturation (0-255) below which a pixel is grey: the robot, not the table
ROBOT_VALUE = 50          # OpenCV value below which a pixel is dark: the robot's black links or its shadow
COLOURS: dict[str, tuple[float, float, float, float]] = {**CUBE_RGBA, **TARGET_RGBA}


@dataclass(frozen=True)
class Sighting:
    """One object in one frame: pixel count and centroid (x, y) in pixels; area 0 when not seen."""

    area: int
    x: float
    y: float

    def distance(self, other: Sighting) -> float:
        return float(np.hypot(self.x - other.x, self.y - other.y))


def to_hsv(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) RGB uint8 → int HSV in OpenCV's units (hue 0-179, saturation and value 0-255)."""
    t, h, w, _ = frames.shape
    return cv2.cvtColor(frames.reshape(t * h, w, 3), cv2.COLOR_RGB2HSV).reshape(t, h, w, 3).astype(np.int16)


def mask(hsv: np.ndarray, colour: str) -> np.ndarray:
    """(T, H, W) bool: the pixels of the object coloured `colour` (a key of COLOURS)."""
    r, g, b, _ = COLOURS[colour]
    hue, sat, val = colorsys.rgb_to_hsv(r, g, b)
    dh = np.abs(hsv[..., 0] - hue * 180)
    dh = np.minimum(dh, 180 - dh)  # hue is circular: red sits at both ends
    return (dh <= HUE_TOLERANCE) & (hsv[..., 1] >= MIN_SATURATION * sat * 255) & (hsv[..., 2] >= MIN_VALUE * val * 255)


def sightings(object_mask: np.ndarray, min_area: int) -> list[Sighting]:
    """Per frame: the object's area and centroid, or area 0 when fewer than `min_area` pixels show."""
    out = []
    for frame in object_mask:
        ys, xs = np.nonzero(frame)
        out.append(Sighting(len(xs), float(xs.mean()), float(ys.mean())) if len(xs) >= min_area else Sighting(0, 0, 0))
    return out


def shows_background(hsv_frame: np.ndarray, where: Sighting, radius: int) -> bool:
    """Whether most pixels around `where` are background (the table): neither the robot (grey or dark)
    nor any object's colour. A hidden object leaves robot pixels there; a vanished one, table."""
    h, w = hsv_frame.shape[:2]
    x, y = round(where.x), round(where.y)
    window = hsv_frame[None, max(0, y - radius):min(h, y + radius + 1), max(0, x - radius):min(w, x + radius + 1)]
    robot = (window[..., 1] < ROBOT_SATURATION) | (window[..., 2] < ROBOT_VALUE)
    objects = np.logical_or.reduce([mask(window, colour) for colour in COLOURS])
    return window.size > 0 and float((~robot & ~objects).mean()) >= 0.5
