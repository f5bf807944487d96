"""The videos a dataset episode holds per camera: the model view and, optionally, the raw camera.

GR00T's models read the 256x256 model view (`model_view.video_key`, e.g. `ego_view`). The raw
camera (`raw_video_key`, `observation.images.egoview` for GR1, as NVIDIA's own GR1 data keeps it)
is what world-model clips are cut from: the model view's black padding bands and its upscale would
be learned as if they were the scene. It is stored at the camera's native size by default, or at a
smaller size of the same aspect ratio (CI and the demo), or not at all; it is never upscaled.

Both the dataset writer (frames in memory) and the converter's workers (which encode in parallel
and hand the writer finished files) encode through `encode_videos`, so the two paths agree.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from dreamgen_core.dataset.layout import DatasetError
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.video import EncoderConfig, ModelViewTransform, VideoWriter, resize

RawSize = Literal["native"] | tuple[int, int] | None  # (height, width); None: no raw video
ASPECT_TOLERANCE = 0.01  # relative: a raw size must keep the camera's shape (1280x800 → 320x200)
IMAGE_PREFIX = "observation.images."


@dataclass(frozen=True)
class VideoFeature:
    """One video of every episode: its dataset key, the camera it comes from, its frame size."""

    key: str
    camera: str
    size_hw: tuple[int, int]
    raw: bool

    @property
    def modality_name(self) -> str:
        """Its name in meta/modality.json's video block (GR00T configs say `video.<name>`)."""
        return self.camera if not self.raw else self.key.removeprefix(IMAGE_PREFIX)


def video_features(spec: Embodiment, raw_size: RawSize) -> list[VideoFeature]:
    """The dataset's videos, per camera: the model view, then the raw camera if the spec names a key."""
    features = []
    for name, cam in spec.cameras.items():
        features.append(VideoFeature(cam.model_view.video_key, name, cam.model_view.size_hw, raw=False))
        if raw_size is None or cam.raw_video_key is None:
            continue
        size = (cam.height, cam.width) if raw_size == "native" else raw_size
        if size[0] <= 0 or size[1] <= 0 or size[0] % 2 or size[1] % 2:
            raise DatasetError(f"raw video size {size[1]}x{size[0]}: width and height must be even and > 0 (h264)")
        if abs(size[1] / size[0] / (cam.width / cam.height) - 1) > ASPECT_TOLERANCE:
            raise DatasetError(f"raw video size {size[1]}x{size[0]}: camera {name} is {cam.width}x{cam.height}; "
                               "the raw video keeps its aspect ratio")
        features.append(VideoFeature(cam.raw_video_key, name, size, raw=True))
    return features


def modality_videos(features: Iterable[VideoFeature]) -> dict[str, dict[str, str]]:
    return {f.modality_name: {"original_key": f.key} for f in features}


def _raw_transform(feature: VideoFeature) -> Callable[[np.ndarray], np.ndarray]:
    def shrink(frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        if height < feature.size_hw[0] or width < feature.size_hw[1]:
            raise DatasetError(f"frames.{feature.camera}: frame {width}x{height} is smaller than the raw video "
                               f"{feature.key} ({feature.size_hw[1]}x{feature.size_hw[0]}): refusing to upscale; "
                               "choose a raw size at most the recorded one")
        return resize(frame, feature.size_hw)
    return shrink


def transform(spec: Embodiment, feature: VideoFeature) -> Callable[[np.ndarray], np.ndarray]:
    """Native RGB frame → this video's frame."""
    if feature.raw:
        return _raw_transform(feature)
    return ModelViewTransform.for_camera(spec.cameras[feature.camera])


def encode_videos(spec: Embodiment, features: list[VideoFeature], frames: Mapping[str, Iterable[np.ndarray]],
                  length: int, paths: Mapping[str, Path], encoder: EncoderConfig) -> None:
    """Encode each camera's native frames (read once) into every video of that camera, at `paths[key]`.

    A frame object repeated in a row (a slower camera's frame used for several dataset frames) is
    transformed once. Exactly `length` frames per camera, or a DatasetError and no file is left.
    """
    for camera, stream in frames.items():
        own = [f for f in features if f.camera == camera]
        steps = [transform(spec, f) for f in own]
        writers = []
        try:
            for f in own:
                paths[f.key].parent.mkdir(parents=True, exist_ok=True)
                writers.append(VideoWriter(paths[f.key], spec.rates.dataset_fps, f.size_hw, encoder))
            count, previous, outputs = 0, None, []
            for frame in stream:
                if count == length:
                    raise DatasetError(f"frames.{camera}: more frames than the {length} state rows")
                if frame is not previous:
                    outputs, previous = [step(frame) for step in steps], frame
                for writer, output in zip(writers, outputs):
                    writer.write(output)
                count += 1
            if count != length:
                raise DatasetError(f"frames.{camera}: {count} frames, expected {length} (one per state row)")
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        for writer in writers:
            writer.close()


def encode_incoming(spec: Embodiment, features: list[VideoFeature], frames: Mapping[str, Iterable[np.ndarray]],
                    length: int, incoming: Path, prefix: str, encoder: EncoderConfig) -> dict[str, Path]:
    """`encode_videos` into a new directory under `incoming` (a `DatasetWriter.incoming()`, whose `add`
    moves the files in): the videos' paths by key. A failure leaves no directory behind."""
    directory = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=incoming))
    paths = {f.key: directory / f"{f.key}.mp4" for f in features}
    try:
        encode_videos(spec, features, frames, length, paths, encoder)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return paths
