"""World-model training clips from a dataset: one mp4 + one caption per episode, Cosmos-style layout.

    <out>/videos/<name>.mp4   <out>/metas/<name>.txt   <out>/metadata.csv   <out>/provenance.json

The dataset runs at its control rate (20 fps for GR1) and the world model at 16 fps, so clips are
resampled explicitly: output frame j (time j/fps_out) shows the nearest-earlier source frame,
index floor(j · fps_in / fps_out), and a clip of N source frames has floor(N · fps_out / fps_in)
frames (no frame past the end of the episode). Clips shorter than the model's frame count are
skipped and reported, because the reference trainer rejects them. The output appears atomically
(an `AtomicDir`: built beside `out` under a lock, swapped in when complete).

Clips are cut from the raw camera video (`dataset.videos`), never from the model view, whose black
padding bands and upscale the world model would learn as part of the scene. The raw frame (16:10
for GR1) is cropped to the clip's aspect ratio (16:9) — centred by default, `crop_offset` moves
the window — and resized; no bars are added. Upscaling is refused unless `allow_upscale`. How each
clip was framed is printed and recorded in the clip set's provenance.json.
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
from dreamgen_core.dataset.validate import require_valid
from dreamgen_core.video import EncoderConfig, VideoWriter, iter_frames, resize
from dreamgen_core.video.codec import frame_rate

CAPTION_PREFIX = "The robot arm is performing a task. "
METADATA_COLUMNS = ("video_path", "caption", "num_frames", "fps", "episode_index")


@dataclass(frozen=True)
class ClipConfig:
    fps: float = 16.0
    min_frames: int = 93
    size_hw: tuple[int, int] = (432, 768)
    video_key: str | None = None  # None: the dataset's raw camera video
    crop_offset: float = 0.5  # where the crop window sits in the cut axis: 0 top/left, 0.5 centre, 1 bottom/right
    allow_upscale: bool = False
    encoder: EncoderConfig = EncoderConfig()


@dataclass(frozen=True)
class Framing:
    """How a source frame becomes a clip frame: crop [row0, row1) x [col0, col1) of source_hw, resize."""

    source_hw: tuple[int, int]
    crop: tuple[int, int, int, int]
    size_hw: tuple[int, int]

    @property
    def upscales(self) -> bool:
        return self.crop[1] - self.crop[0] < self.size_hw[0] or self.crop[3] - self.crop[2] < self.size_hw[1]

    def apply(self, image: np.ndarray) -> np.ndarray:
        """One source frame (source_hw) as a clip frame (size_hw)."""
        r0, r1, c0, c1 = self.crop
        return resize(image[r0:r1, c0:c1], self.size_hw)

    def describe(self) -> str:
        (h, w), (r0, r1, c0, c1), (out_h, out_w) = self.source_hw, self.crop, self.size_hw
        return (f"{w}x{h} cropped to rows [{r0}, {r1}) cols [{c0}, {c1}) = {c1 - c0}x{r1 - r0} "
                f"(the clip's aspect ratio, no bars), {'upscaled' if self.upscales else 'resized'} to {out_w}x{out_h}")


def framing(source_hw: tuple[int, int], size_hw: tuple[int, int], offset: float) -> Framing:
    """The largest window of the clip's aspect ratio in the source, placed at `offset` along the cut axis."""
    if not 0 <= offset <= 1:
        raise L.DatasetError(f"crop offset {offset:g}: must be in [0, 1] (0 top/left, 0.5 centre, 1 bottom/right)")
    (h, w), (out_h, out_w) = source_hw, size_hw
    rows, cols = (round(w * out_h / out_w), w) if w * out_h < h * out_w else (h, round(h * out_w / out_h))
    r0, c0 = round((h - rows) * offset), round((w - cols) * offset)
    return Framing(source_hw, (r0, r0 + rows, c0, c0 + cols), size_hw)


@dataclass
class ClipReport:
    framing: Framing
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
    require_valid(dataset)
    info = L.read_json(dataset / "meta" / "info.json")
    key, frame = source_framing(dataset, info, config)
    tasks = [row["task"] for row in L.read_jsonl(dataset / "meta" / "tasks.jsonl")]
    with AtomicDir(out) as build:
        if out.exists():  # checked under the lock: a concurrent export cannot slip in after the check
            raise L.DatasetError(f"{out}: already exists; choose a new --out directory")
        report = _write_clips(dataset, build, info, key, tasks, config, frame)
        _write_manifest(dataset, build, info, key, config, report)
    return report


def source_framing(dataset: Path, info: dict, config: ClipConfig) -> tuple[str, Framing]:
    """The video feature clips are cut from and how its frames are framed (`wm frames` frames first frames alike)."""
    key = config.video_key or _raw_key(dataset)
    if key not in L.video_keys(info["features"]):
        raise L.DatasetError(f"{dataset}/meta/info.json: features: {key!r}: not a video feature of the dataset")
    frame = framing(tuple(info["features"][key]["shape"][:2]), config.size_hw, config.crop_offset)
    if frame.upscales and not config.allow_upscale:
        raise L.DatasetError(f"{dataset}: {key}: {frame.describe()}: refusing to upscale; choose a smaller --size, "
                             "convert with a larger --raw-size, or pass --allow-upscale")
    return key, frame


def _raw_key(dataset: Path) -> str:
    raw = L.read_json(dataset / "meta" / "provenance.json").get("raw_videos") or {}
    if not raw:
        raise L.DatasetError(f"{dataset}: no raw camera video (converted with --raw-size none?): the model view's "
                             "padding bands would be learned as scene; pass --video-key to export one anyway")
    return next(iter(raw))


def _write_clips(dataset: Path, build: Path, info: dict, key: str, tasks: list[str], config: ClipConfig,
                 frame: Framing) -> ClipReport:
    report = ClipReport(frame)
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
        _encode_clip(dataset / L.video_file(key, index), build / "videos" / f"{name}.mp4", picks, config, frame)
        caption = CAPTION_PREFIX + tasks[instruction_index(dataset, index)]
        write_text_atomic(build / "metas" / f"{name}.txt", caption + "\n")
        rows.append((f"videos/{name}.mp4", caption, len(picks), config.fps, index))
        report.written.append((name, index, len(picks)))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(METADATA_COLUMNS)
    writer.writerows(rows)
    write_text_atomic(build / "metadata.csv", text.getvalue())
    return report


def instruction_index(dataset: Path, episode: int) -> int:
    column = pq.read_table(dataset / L.data_file(episode), columns=[L.TASK_DESCRIPTION]).column(0)
    return int(column[0].as_py())


def _encode_clip(source: Path, target: Path, picks: np.ndarray, config: ClipConfig, frame: Framing) -> None:
    repeats = np.bincount(picks)  # a source frame appears 0, 1 or more times (upsampling)
    with VideoWriter(target, config.fps, config.size_hw, config.encoder) as video:
        for i, (_, image) in enumerate(iter_frames(source)):
            if i >= len(repeats):
                break
            resized = frame.apply(image)
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
        "framing": {"description": report.framing.describe(), "source_hw": list(report.framing.source_hw),
                    "crop_rows": list(report.framing.crop[:2]), "crop_cols": list(report.framing.crop[2:]),
                    "crop_offset": config.crop_offset, "upscaled": report.framing.upscales},
        "skipped": [{"episode_index": e, "reason": why} for e, why in report.skipped]})
