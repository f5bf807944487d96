"""GR00T's model view of a camera frame: crop → resize → pad rows of black → resize.

The crop bounds of the embodiment spec are pixels of the native frame; they apply as ratios of
the actual frame, so a downscaled stream (sim, compressed topic) yields the same view. Bounds are
rounded half up with integer arithmetic, so the native resolution gets the exact pixels. Only the
crop is resized: the black bands are never built and resized, only the output rows they cover
are left black (`_pad_and_resize` says why that gives the same pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import cv2
import numpy as np

from dreamgen_core.embodiment.spec import Camera


def resize(frame: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resize to (height, width): INTER_AREA when any axis shrinks (OpenCV interpolates the other axis
    bilinearly), INTER_LINEAR when only enlarging, where INTER_AREA would degrade to nearest-like blocks."""
    h, w = frame.shape[:2]
    if (h, w) == tuple(size_hw):
        return frame
    shrinks = size_hw[0] < h or size_hw[1] < w
    return cv2.resize(frame, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR)


def _scaled(pixel: int, native: int, actual: int) -> int:
    # round(pixel * actual / native) half up, exactly: 77.5 must not become 77.499999 → 77.
    return (2 * pixel * actual + native) // (2 * native)


@dataclass(frozen=True)
class ModelViewTransform:
    """Crop bounds in native pixels ([begin, end) of `native_hw`), then the resize/pad chain."""

    native_hw: tuple[int, int]
    crop_rows: tuple[int, int]
    crop_cols: tuple[int, int]
    resize_hw: tuple[int, int]
    pad_rows: int
    size_hw: tuple[int, int]

    @classmethod
    def for_camera(cls, camera: Camera) -> ModelViewTransform:
        v = camera.model_view
        return cls((camera.height, camera.width), v.crop_rows, v.crop_cols, v.resize_hw, v.pad_rows, v.size_hw)

    def crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(row0, row1, col0, col1) of the crop in a height×width frame."""
        r0, r1 = (_scaled(p, self.native_hw[0], height) for p in self.crop_rows)
        c0, c1 = (_scaled(p, self.native_hw[1], width) for p in self.crop_cols)
        if r1 <= r0 or c1 <= c0:
            raise ValueError(f"frame {width}x{height} is too small for the model-view crop "
                             f"rows {self.crop_rows} cols {self.crop_cols} of {self.native_hw[1]}x{self.native_hw[0]}")
        return r0, r1, c0, c1

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """One RGB uint8 frame [H, W, 3] of any resolution → the model view [*size_hw, 3]."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 frame [H, W, 3], got {frame.dtype} {list(frame.shape)}")
        r0, r1, c0, c1 = self.crop_box(*frame.shape[:2])
        return self.from_crop(frame[r0:r1, c0:c1])

    def from_crop(self, crop: np.ndarray) -> np.ndarray:
        """The model view of an already cut crop region (any size): resize, pad, resize. The IDM's
        `idm.view` cuts the region itself from frames that show only part of the camera frame."""
        return self._pad_and_resize(resize(crop, self.resize_hw))

    def _pad_and_resize(self, middle: np.ndarray) -> np.ndarray:
        """`middle` with `pad_rows` black rows above and below, resized to `size_hw`.

        Shrinking (INTER_AREA) maps input rows [k·a, (k+1)·a) onto output rows [k·b, (k+1)·b),
        a/b = padded/output height in lowest terms. So the band of whole blocks that holds the
        content resizes on its own to exactly the output rows the padded image gives (same scale,
        same weights); every output row outside it sees only padding, which is black.
        """
        padded_h, (out_h, out_w) = self.resize_hw[0] + 2 * self.pad_rows, self.size_hw
        if not self.pad_rows or out_h > padded_h or out_w > self.resize_hw[1]:
            padded = np.pad(middle, ((self.pad_rows, self.pad_rows), (0, 0), (0, 0)))
            return resize(padded, self.size_hw)
        g = gcd(padded_h, out_h)
        a, b = padded_h // g, out_h // g
        k0, k1 = self.pad_rows // a, -(-(self.pad_rows + self.resize_hw[0]) // a)
        band = np.zeros(((k1 - k0) * a, self.resize_hw[1], 3), dtype=np.uint8)
        band[self.pad_rows - k0 * a: self.pad_rows - k0 * a + self.resize_hw[0]] = middle
        out = np.zeros((out_h, out_w, 3), dtype=np.uint8)
        out[k0 * b: k1 * b] = resize(band, ((k1 - k0) * b, out_w))
        return out
