"""Where the IDM's frames sit in the camera frame, and the ONE function that turns them into model input.

The IDM sees what the policy sees: the dataset's model view of the camera (the embodiment's crop
recipe, `video.model_view`: crop → resize → pad black rows → resize), downscaled to the IDM's
`image_hw`. Demos are stored in that view already (`MODEL_VIEW`). Dreams are not: a sim world
model's dream is a centred square crop of the 16:10 camera frame at 64x64 (`dataset.clips.framing`),
so it holds only part of the recipe's crop region, at another resolution. A `FrameView` says which
part of the camera frame the frames show, as fractions [top, bottom) x [left, right) of its height
and width; `prepare_frames` cuts the recipe's crop region (its bounds are ratios of the camera
frame too) out of such frames, black wherever the region reaches past what they show, and runs
the recipe's resize/pad chain on it. Training and labelling both call `prepare_frames`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from dreamgen_core.embodiment.spec import Camera, Embodiment
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.video.model_view import ModelViewTransform, resize

# A frame edge at a fraction lands on a pixel boundary up to this far off (float round-off of p/native).
_EDGE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class FrameView:
    """Frames showing rows [top, bottom) and columns [left, right) of the camera frame (fractions of it);
    `space="model"`: frames already in the dataset's model view (the fractions are then unused)."""

    top: float = 0.0
    left: float = 0.0
    bottom: float = 1.0
    right: float = 1.0
    space: Literal["raw", "model"] = "raw"

    def __post_init__(self) -> None:
        if self.space not in ("raw", "model"):
            raise IdmError(f"FrameView space {self.space!r}: must be 'raw' or 'model'")
        if not (np.isfinite([self.top, self.left, self.bottom, self.right]).all()
                and self.bottom > self.top and self.right > self.left):
            raise IdmError(f"FrameView {self.describe()}: bottom must exceed top and right must exceed left")

    @classmethod
    def of_crop(cls, source_hw: tuple[int, int], crop: tuple[int, int, int, int]) -> FrameView:
        """The view of frames cut as rows [r0, r1) x cols [c0, c1) from a camera frame of `source_hw`
        (`dataset.clips.Framing.crop`, e.g. a world model's clip framing)."""
        (h, w), (r0, r1, c0, c1) = source_hw, crop
        return cls(r0 / h, c0 / w, r1 / h, c1 / w)

    def describe(self) -> str:
        if self.space == "model":
            return "the dataset's model view"
        return f"rows [{self.top:.4g}, {self.bottom:.4g}) cols [{self.left:.4g}, {self.right:.4g}) of the camera frame"

    def to_dict(self) -> dict[str, Any]:
        return {"top": self.top, "left": self.left, "bottom": self.bottom, "right": self.right, "space": self.space}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameView:
        return cls(float(data["top"]), float(data["left"]), float(data["bottom"]), float(data["right"]),
                   data.get("space", "raw"))


RAW_VIEW = FrameView()                 # whole camera frames
MODEL_VIEW = FrameView(space="model")  # frames of the dataset's model-view video


def model_camera(spec: Embodiment, video_key: str) -> Camera:
    """The camera whose model view is the dataset video `video_key`."""
    for camera in spec.cameras.values():
        if camera.model_view.video_key == video_key:
            return camera
    raise IdmError(f"embodiment {spec.name}: no camera has the model view {video_key!r} "
                   f"(model views: {', '.join(c.model_view.video_key for c in spec.cameras.values())})")


def prepare_frames(frames: np.ndarray, view: FrameView, camera: Camera, image_hw: tuple[int, int]) -> np.ndarray:
    """uint8 frames [B, h, w, 3] (or one [h, w, 3]) showing `view` → the IDM's input, uint8 [B, *image_hw, 3]."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise IdmError(f"expected uint8 RGB frames [B, h, w, 3], got {frames.dtype} {list(frames.shape)}")
    transform = ModelViewTransform.for_camera(camera)
    out = np.empty((len(frames), *image_hw, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        full = frame if view.space == "model" else transform.from_crop(_crop_region(frame, view, transform))
        out[i] = resize(full, image_hw)
    return out


def _crop_region(frame: np.ndarray, view: FrameView, transform: ModelViewTransform) -> np.ndarray:
    """The recipe's crop region, cut from a frame that shows `view` of the camera; black outside the frame."""
    h, w = frame.shape[:2]
    (nh, nw), (p0, p1), (q0, q1) = transform.native_hw, transform.crop_rows, transform.crop_cols
    r0, r1 = (_pixel(p / nh, view.top, view.bottom, h) for p in (p0, p1))
    c0, c1 = (_pixel(q / nw, view.left, view.right, w) for q in (q0, q1))
    if r1 <= r0 or c1 <= c0:
        raise IdmError(f"frames of {w}x{h} showing {view.describe()} are too small for the model-view crop")
    region = np.zeros((r1 - r0, c1 - c0, 3), dtype=np.uint8)
    sr0, sr1, sc0, sc1 = max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)
    if sr1 > sr0 and sc1 > sc0:
        region[sr0 - r0: sr1 - r0, sc0 - c0: sc1 - c0] = frame[sr0:sr1, sc0:sc1]
    return region


def _pixel(fraction: float, begin: float, end: float, size: int) -> int:
    """The frame pixel edge of a camera-frame fraction, rounded half up as `ModelViewTransform.crop_box` does."""
    return int(np.floor((fraction - begin) / (end - begin) * size + 0.5 + _EDGE_TOLERANCE))
