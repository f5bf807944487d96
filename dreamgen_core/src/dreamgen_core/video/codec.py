"""h264 yuv420p mp4 files with exact timestamps: PTS of frame i is i/fps, frame 0 at 0.0.

GR00T's loader picks, for each parquet row, the video frame whose PTS is closest to the row's
timestamp, so the PTS must be exactly frame_index/fps. The stream time base is 1/fps (the mp4
muxer may refine it to a multiple, which keeps i/fps exact) and B-frames are off: with them the
muxer shifts decode times by an edit list that some readers ignore, which shifts every PTS.
Frames are fed one at a time, so memory stays bounded however long the episode is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from typing_extensions import Self

CODEC = "h264"
PIX_FMT = "yuv420p"


@dataclass(frozen=True)
class EncoderConfig:
    """libx264 settings; `gop` bounds the decode cost of random frame access in training loaders.
    `threads` is fixed, not "auto": x264's output depends on its thread count, and datasets must be
    the same on every machine; converters encode several episodes in parallel instead."""

    crf: int = 20
    preset: str = "veryfast"
    gop: int = 20
    threads: int = 1


def frame_rate(fps: float) -> Fraction:
    """fps as the exact rational the container stores (20 → 20/1, 29.97 → 2997/100)."""
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return rate


class VideoWriter:
    """Streaming mp4 encoder: `write` frames in order, `close` (or leave the `with`) to finish."""

    def __init__(self, path: Path, fps: float, size_hw: tuple[int, int], config: EncoderConfig = EncoderConfig()):
        height, width = size_hw
        if height % 2 or width % 2 or height <= 0 or width <= 0:
            raise ValueError(f"{path}: yuv420p needs an even, positive frame size, got {width}x{height}")
        self.path, self.size_hw, self.count = Path(path), (height, width), 0
        self._rate = frame_rate(fps)
        self._container = av.open(str(self.path), "w", format="mp4")
        self._stream = self._container.add_stream("libx264", rate=self._rate)
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, PIX_FMT
        self._stream.time_base = 1 / self._rate
        self._stream.options = {"crf": str(config.crf), "preset": config.preset, "g": str(config.gop), "bf": "0",
                                "threads": str(config.threads)}

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame [H, W, 3] of the writer's size; its PTS is count/fps."""
        if frame.shape != (*self.size_hw, 3) or frame.dtype != np.uint8:
            raise ValueError(f"{self.path}: frame {self.count} is {frame.dtype} {list(frame.shape)}, "
                             f"expected uint8 {[*self.size_hw, 3]}")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        video_frame.pts, video_frame.time_base = self.count, 1 / self._rate
        self._container.mux(self._stream.encode(video_frame))
        self.count += 1

    def close(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()

    def abort(self) -> None:
        """Stop without finishing the file, and remove it: a partial mp4 is never left behind."""
        self._container.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def encode_video(path: Path, frames: Iterable[np.ndarray], fps: float, size_hw: tuple[int, int],
                 config: EncoderConfig = EncoderConfig()) -> int:
    """Encode a stream of frames; returns how many were written."""
    with VideoWriter(path, fps, size_hw, config) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.count


@dataclass(frozen=True)
class VideoProbe:
    """What a file says about its first video stream, read from packets without decoding."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: Fraction
    pts_s: np.ndarray  # float64 seconds, presentation order


def _seconds(pts: int | None, time_base: Fraction | None) -> float:
    if pts is None or time_base is None:  # our writer stamps every frame; another file may not
        raise ValueError("a video frame without a timestamp (PTS or time base)")
    return float(pts * time_base)


def probe_video(path: Path) -> VideoProbe:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
        ctx = stream.codec_context
        return VideoProbe(ctx.name, ctx.pix_fmt or "", ctx.width, ctx.height, Fraction(stream.average_rate or 0),
                          np.array([_seconds(p, tb) for p in pts], dtype=np.float64))


def iter_frames(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """Decode lazily: (PTS in seconds, RGB uint8 frame) in presentation order."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield _seconds(frame.pts, frame.time_base), frame.to_ndarray(format="rgb24")


@dataclass(frozen=True)
class DecodedVideo:
    frames: np.ndarray  # [N, H, W, 3] uint8
    pts_s: np.ndarray  # [N] float64 seconds


def decode_video(path: Path) -> DecodedVideo:
    """Decode a whole (short) file into memory; use `iter_frames` for long ones."""
    decoded = list(iter_frames(path))
    if not decoded:
        return DecodedVideo(np.zeros((0, 0, 0, 3), np.uint8), np.zeros(0))
    return DecodedVideo(np.stack([f for _, f in decoded]), np.array([t for t, _ in decoded], dtype=np.float64))
