"""h264 yuv420p mp4 round trip through PyAV: frame count, exact PTS = i/fps, pixel fidelity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dreamgen_core.video import VideoWriter, decode_video, encode_video, probe_video


def smooth_frames(count: int, height: int = 256, width: int = 256):
    """Moving gradients: smooth content a codec should keep above 30 dB."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    for i in range(count):
        r = 128 + 100 * np.sin((rows + 3 * i) / 40)
        g = 128 + 100 * np.cos((cols - 2 * i) / 50)
        b = (rows + cols + 5 * i) % 256 * 0.5 + 60
        yield np.stack([r, g, b], axis=-1).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.mark.parametrize("fps", [20.0, 16.0])
def test_round_trip_keeps_count_pts_and_pixels(tmp_path: Path, fps: float) -> None:
    path = tmp_path / "clip.mp4"
    assert encode_video(path, smooth_frames(45), fps, (256, 256)) == 45  # fed lazily from a generator
    decoded = decode_video(path)
    assert decoded.frames.shape == (45, 256, 256, 3)
    assert decoded.pts_s.tolist() == [i / fps for i in range(45)]  # exact, frame 0 at 0.0
    assert min(psnr(a, b) for a, b in zip(decoded.frames, smooth_frames(45))) > 30
    probe = probe_video(path)
    assert (probe.codec, probe.pix_fmt, probe.width, probe.height, probe.fps) == ("h264", "yuv420p", 256, 256, fps)
    assert probe.pts_s.tolist() == decoded.pts_s.tolist()


def test_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "partial.mp4"
    with pytest.raises(RuntimeError, match="camera died"), VideoWriter(path, 20, (64, 64)) as writer:
        writer.write(np.zeros((64, 64, 3), np.uint8))
        raise RuntimeError("camera died")
    assert not path.exists()


def test_wrong_frames_and_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"even, positive frame size, got 65x64"):
        VideoWriter(tmp_path / "odd.mp4", 20, (64, 65))
    with pytest.raises(ValueError, match=r"frame 0 is uint8 \[32, 32, 3\], expected uint8 \[64, 64, 3\]"):
        with VideoWriter(tmp_path / "size.mp4", 20, (64, 64)) as writer:
            writer.write(np.zeros((32, 32, 3), np.uint8))
