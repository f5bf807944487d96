"""A clip set (`dreamgen dataset export-clips`) read as world-model training samples at a recipe's geometry.

A sample is `video.num_frames` frames `video.frame_stride` clip frames apart starting at frame 0 —
dreams start from an episode's first frame, so training does too — cropped to the recipe's aspect
ratio (centred, the clip exporter's own `framing`) and resized to video.height × video.width. The
caption is the recipe's `caption_prefix` + the episode's instruction (the clip set's own prefix,
recorded in its provenance.json, is taken off first). Clips with too few frames are skipped and
reported; a clip set with no usable clip is an error.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dreamgen_core.dataset.clips import CAPTION_PREFIX, METADATA_COLUMNS, framing
from dreamgen_core.video import iter_frames
from dreamgen_core.worldmodel.backend import Clip
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.recipe import Recipe, VideoConfig

METADATA = "metadata.csv"
PROVENANCE = "provenance.json"


@dataclass(frozen=True)
class ClipEntry:
    name: str
    video: Path
    instruction: str
    caption: str        # recipe.caption_prefix + instruction: what the model is conditioned on
    num_frames: int     # frames in the clip file (metadata.csv)


@dataclass(frozen=True)
class ClipSet:
    root: Path
    entries: list[ClipEntry]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (clip name, why)


def frames_needed(video: VideoConfig) -> int:
    """Clip frames one sample spans: frames 0, stride, …, (num_frames − 1)·stride."""
    return (video.num_frames - 1) * video.frame_stride + 1


def read_clipset(root: Path, recipe: Recipe) -> ClipSet:
    """The usable clips of `root` for `recipe`; raises WorldModelError when there are none."""
    root = Path(root)
    metadata = root / METADATA
    if not metadata.is_file():
        raise WorldModelError(f"{root}: not a clip set (no {METADATA}); make one with `dreamgen dataset export-clips`")
    prefix = _clip_caption_prefix(root)
    need = frames_needed(recipe.video)
    entries: list[ClipEntry] = []
    skipped: list[tuple[str, str]] = []
    with open(metadata, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = set(METADATA_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise WorldModelError(f"{metadata}: missing column(s) {', '.join(sorted(missing))}; "
                                  f"expected {','.join(METADATA_COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            entry = _entry(root, metadata, line, row, prefix, recipe.caption_prefix)
            if entry.num_frames < need:
                why = (f"{entry.num_frames} frames, fewer than the {need} that "
                       f"{recipe.video.num_frames} frames {recipe.video.frame_stride} apart span")
                skipped.append((entry.name, why))
            else:
                entries.append(entry)
    if not entries:
        why = f"; skipped: {skipped[0][0]}: {skipped[0][1]}" + (f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else "") \
            if skipped else f"; {METADATA} lists no clips"
        raise WorldModelError(f"{root}: no usable clip for {recipe.source}{why}")
    return ClipSet(root, entries, skipped)


def _clip_caption_prefix(root: Path) -> str:
    path = root / PROVENANCE
    if not path.is_file():
        return CAPTION_PREFIX
    prefix = json.loads(path.read_text(encoding="utf-8")).get("caption_prefix", CAPTION_PREFIX)
    return str(prefix)


def _entry(root: Path, metadata: Path, line: int, row: dict[str, str], clip_prefix: str, recipe_prefix: str) -> ClipEntry:
    video = root / row["video_path"]
    if not video.is_file():
        raise WorldModelError(f"{metadata}: line {line}: video_path {row['video_path']!r}: no such file")
    try:
        num_frames = int(row["num_frames"])
    except ValueError:
        raise WorldModelError(f"{metadata}: line {line}: num_frames {row['num_frames']!r}: not an integer") from None
    caption = row["caption"]
    instruction = caption.removeprefix(clip_prefix)
    return ClipEntry(video.stem, video, instruction, recipe_prefix + instruction, num_frames)


def to_geometry(image: np.ndarray, video: VideoConfig) -> np.ndarray:
    """One frame (H, W, 3) uint8 cropped (centred) to the recipe's aspect ratio and resized to its size."""
    return framing((image.shape[0], image.shape[1]), (video.height, video.width), 0.5).apply(image)


def load_clip(entry: ClipEntry, video: VideoConfig) -> Clip:
    """Decode the sample's frames of one clip at the recipe's geometry."""
    picks = set(range(0, frames_needed(video), video.frame_stride))
    frames = []
    for index, (_, image) in enumerate(iter_frames(entry.video)):
        if index in picks:
            frames.append(to_geometry(image, video))
        if len(frames) == video.num_frames:
            break
    if len(frames) < video.num_frames:
        raise WorldModelError(f"{entry.video}: decoded too few frames for {video.num_frames} frames "
                              f"{video.frame_stride} apart (metadata.csv says it has {entry.num_frames})")
    return Clip(np.stack(frames), entry.caption)


def content_key(entry: ClipEntry, backend: str, encoder_fingerprint: str, video: VideoConfig) -> str:
    """What an encoded clip depends on: the clip file's bytes, its caption, the backend, its encoder, the geometry."""
    digest = hashlib.sha256()
    with open(entry.video, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    for part in (entry.caption, backend, encoder_fingerprint, json.dumps(asdict(video), sort_keys=True)):
        digest.update(b"\0" + part.encode("utf-8"))
    return digest.hexdigest()
