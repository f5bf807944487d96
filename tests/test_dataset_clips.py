"""`dreamgen export-clips`: Cosmos-style clips from the raw camera video — cropped to the clip's aspect
ratio without bars, never upscaled unless asked — resampled 20 → 16 fps, captioned, short ones skipped."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_dataset_writer import LENGTHS, RAW_VIDEO, TASKS, VIDEO, build_dataset

from dreamgen_core.dataset import resample_indices
from dreamgen_core.video import decode_video


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("ds") / "gr1_real")


def run(cli: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=60)


def test_resampling_picks_the_nearest_earlier_frame() -> None:
    assert resample_indices(30, 20, 16).tolist() == [int(j * 1.25) for j in range(24)]
    assert [len(resample_indices(n, 20, 16)) for n in LENGTHS] == [24, 25, 22]  # floor(N * 16 / 20)
    assert resample_indices(3, 10, 20).tolist() == [0, 0, 1, 1, 2, 2]


def test_export_clips_layout_reads_back(cli: Path, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "clips"
    result = run(cli, "export-clips", str(dataset), "--out", str(out), "--min-frames", "24", "--size", "64x96")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        ("framing: 320x200 cropped to rows [0, 200) cols [10, 310) = 300x200 (the clip's aspect ratio, no bars), "
        "resized to 96x64"),
        "skipped episode 2: 28 frames at 20 fps give 22 at 16 fps, fewer than --min-frames 24",
        f"{out}: 2 clips at 16 fps, 64x96; 1 skipped"]
    with open(out / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    captions = [f"The robot arm is performing a task. {TASKS[k]}" for k in (0, 1)]
    assert rows == [{"video_path": f"videos/episode_{k:06d}.mp4", "caption": captions[k], "num_frames": str(n),
                     "fps": "16.0", "episode_index": str(k)} for k, n in ((0, 24), (1, 25))]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "metadata.csv", "metas/episode_000000.txt", "metas/episode_000001.txt", "provenance.json",
        "videos/episode_000000.mp4", "videos/episode_000001.mp4"]
    for k, n in ((0, 24), (1, 25)):
        assert (out / f"metas/episode_{k:06d}.txt").read_text() == captions[k] + "\n"
        clip = decode_video(out / f"videos/episode_{k:06d}.mp4")
        assert clip.frames.shape == (n, 64, 96, 3)
        assert clip.pts_s.tolist() == [j / 16 for j in range(n)]
        # each clip frame is the source frame floor(j * 20 / 16): brightness steps with the frame index
        source = decode_video(dataset / f"videos/chunk-000/{RAW_VIDEO}/episode_{k:06d}.mp4").frames[:, :, 10:310]
        source_levels = source.reshape(len(source), -1).mean(axis=1)
        clip_levels = clip.frames.reshape(n, -1).mean(axis=1)
        nearest = np.abs(clip_levels[:, None] - source_levels[None, :]).argmin(axis=1)
        assert nearest.tolist() == resample_indices(LENGTHS[k], 20, 16).tolist()


def test_clip_frames_are_camera_content_to_the_edges(cli: Path, dataset: Path, tmp_path: Path) -> None:
    """The acceptance check: no black bars. The model view has 43 black rows at the top and bottom;
    a clip frame, cropped 16:10 → 16:9 from the raw camera, has camera content in its first and last rows."""
    out = tmp_path / "clips"
    result = run(cli, "export-clips", str(dataset), "--out", str(out), "--min-frames", "24", "--size", "180x320")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("framing: 320x200 cropped to rows [10, 190) cols [0, 320) = 320x180 ")
    clip = decode_video(out / "videos/episode_000000.mp4").frames
    model_view = decode_video(dataset / f"videos/chunk-000/{VIDEO}/episode_000000.mp4").frames
    assert model_view[:, 0].max() <= 2 and model_view[:, -1].max() <= 2  # the bars the clips must not have
    assert clip[:, 0].mean() > 20 and clip[:, -1].mean() > 20
    manifest = json.loads((out / "provenance.json").read_text())
    assert manifest["video_key"] == RAW_VIDEO
    assert manifest["framing"] | {"description": ""} == {
        "description": "", "source_hw": [200, 320], "crop_rows": [10, 190], "crop_cols": [0, 320], "crop_offset": 0.5,
        "upscaled": False}


def test_default_size_and_refusals(cli: Path, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "clips"
    upscale = run(cli, "export-clips", str(dataset), "--out", str(out), "--min-frames", "25")
    assert upscale.returncode == 2 and not out.exists()
    assert upscale.stderr == (f"dreamgen: error: {dataset}: {RAW_VIDEO}: 320x200 cropped to rows [10, 190) cols "
                              "[0, 320) = 320x180 (the clip's aspect ratio, no bars), upscaled to 768x432: refusing "
                              "to upscale; choose a smaller --size, convert with a larger --raw-size, or pass "
                              "--allow-upscale\n")
    allowed = run(cli, "export-clips", str(dataset), "--out", str(out), "--min-frames", "25", "--allow-upscale")
    assert allowed.returncode == 0, allowed.stderr
    assert decode_video(out / "videos/episode_000001.mp4").frames.shape == (25, 432, 768, 3)
    assert json.loads((out / "provenance.json").read_text())["framing"]["upscaled"] is True
    again = run(cli, "export-clips", str(dataset), "--out", str(out), "--allow-upscale")
    assert again.returncode == 2
    assert again.stderr == f"dreamgen: error: {out}: already exists; choose a new --out directory\n"
    bad_size = run(cli, "export-clips", str(dataset), "--out", str(tmp_path / "x"), "--size", "big")
    assert bad_size.returncode == 2 and "--size 'big': expected HxW, e.g. 432x768" in bad_size.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips"]  # no build directories left behind
