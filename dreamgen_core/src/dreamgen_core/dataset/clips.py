"""World-model training clips from a dataset: one mp4 + one caption per episode, Cosmos-style layout.

    <out>/videos/<name>.mp4   <out>/metas/<name>.txt   <out>/metadata.csv   <out>/provenance.json

The dataset runs at its control rate (20 fps for GR1) and the world model at 16 fps, so clips are
resampled explicitly: output frame j (time j/fps_out) shows the nearest-earlier source frame,
index floor(j · fps_in / fps_out), and a clip of N source frames has floor(N · fps_out / fps_in)
frames (no frame past the end of the episode). Clips shorter than the model's frame count are
skipped and reported, because the reference trainer rejects them. The output appears atomically
(an `AtomicDir`: built beside `out` under a lock, swapped in when complete).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from math import floor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from dreamgen_core.atomic import AtomicDir, write_text_atomic
from dreamgen_core.dataset import layout as L
from dreamgen_core.dataset.validate import validate
from dreamgen_core.video import EncoderConfig, VideoWriter, iter_frames, resize
from dreamgen_core.video.codec import frame_rate

CAPTION_PREFIX = "The robot arm is performing a task. "
METADATA_COLUMNS = ("video_path", "caption", "num_frames", "fps", "episode_index")


@dataclass(frozen=True)
class ClipConfig:
    fps: float = 16.0
    min_frames: int = 93
    size_hw: tuple[int, int] = (432, 768)
    video_key: str | None = None  # None: the dataset's first video feature
    encoder: EncoderConfig = EncoderConfig()


@dataclass
class ClipReport:
    written: list[tuple[str, int, int]] = field(default_factory=list)  # (name, episode, frames)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (episode, why)


def resample_indices(length: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Source frame shown at each output frame: nearest-earlier, floor(j · fps_in / fps_out)."""
    rate_in, rate_out = frame_rate(fps_in), frame_rate(fps_out)
    count = floor(length * rate_out / rate_in)
    return np.array([floor(j * rate_in / rate_out) for j in range(count)], dtype=np.int64)


def export_clips(dataset: Path, out: Path, config: ClipConfig = ClipConfig()) -> ClipReport:
    """Write the clips of every long-enough episode of a valid dataset to `out` (which must not exist)."""
    dataset, out = Path(dataset), Path(out)
    problems = validate(dataset)
    if problems:
        raise L.DatasetError(f"{dataset}: invalid dataset ({len(problems)} violations, first: {problems[0]}); "
                             "run `dreamgen validate` on it")
    info = L.read_json(dataset / "meta" / "info.json")
    key = config.video_key or L.video_keys(info["features"])[0]
    if key not in L.video_keys(info["features"]):
        raise L.DatasetError(f"{dataset}/meta/info.json: features: {key!r}: not a video feature of the dataset")
    tasks = [row["task"] for row in L.read_jsonl(dataset / "meta" / "tasks.jsonl")]
    with AtomicDir(out) as build:
        if out.exists():  # checked under the lock: a concurrent export cannot slip in after the check
            raise L.DatasetError(f"{out}: already exists; choose a new --out directory")
        report = _write_clips(dataset, build, info, key, tasks, config)
        _write_manifest(dataset, build, info, key, config, report)
    return report


def _write_clips(dataset: Path, build: Path, info: dict, key: str, tasks: list[str], config: ClipConfig) -> ClipReport:
    report = ClipReport()
    rows = []
    (build / "videos").mkdir()
    (build / "metas").mkdir()
    for episode in L.read_jsonl(dataset / "meta" / "episodes.jsonl"):
        index = episode["episode_index"]
        picks = resample_indices(episode["length"], info["fps"], config.fps)
        if len(picks) < config.min_frames:
            report.skipped.append((index, (f"{episode['length']} frames at {info['fps']} fps give {len(picks)} at "
                                          f"{config.fps:g} fps, fewer than --min-frames {config.min_frames}")))
            continue
        name = f"episode_{index:06d}"
        _encode_clip(dataset / L.video_file(key, index), build / "videos" / f"{name}.mp4", picks, config)
        caption = CAPTION_PREFIX + tasks[_instruction_index(dataset, index)]
        write_text_atomic(build / "metas" / f"{name}.txt", caption + "\n")
        rows.append((f"videos/{name}.mp4", caption, len(picks), config.fps, index))
        report.written.append((name, index, len(picks)))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(METADATA_COLUMNS)
    writer.writerows(rows)
    write_text_atomic(build / "metadata.csv", text.getvalue())
    return report


def _instruction_index(dataset: Path, episode: int) -> int:
    column = pq.read_table(dataset / L.data_file(episode), columns=[L.TASK_DESCRIPTION]).column(0)
    return int(column[0].as_py())


def _encode_clip(source: Path, target: Path, picks: np.ndarray, config: ClipConfig) -> None:
    repeats = np.bincount(picks)  # a source frame appears 0, 1 or more times (upsampling)
    with VideoWriter(target, config.fps, config.size_hw, config.encoder) as video:
        for i, (_, frame) in enumerate(iter_frames(source)):
            if i >= len(repeats):
                break
            resized = resize(frame, config.size_hw)
            for _ in range(repeats[i]):
                video.write(resized)
    if video.count != len(picks):
        raise L.DatasetError(f"{source}: decoded too few frames for {len(picks)} clip frames")


def _write_manifest(dataset: Path, build: Path, info: dict, key: str, config: ClipConfig, report: ClipReport) -> None:
    provenance = L.read_json(dataset / "meta" / "provenance.json")
    L.write_json(build / "provenance.json", {
        "source_dataset": str(dataset.resolve()), "video_key": key, "embodiment": provenance["embodiment"],
        "fps_in": info["fps"], "fps_out": config.fps, "size_hw": list(config.size_hw),
        "resampling": "nearest-earlier: source index floor(j * fps_in / fps_out)", "caption_prefix": CAPTION_PREFIX,
        "skipped": [{"episode_index": e, "reason": why} for e, why in report.skipped]})
