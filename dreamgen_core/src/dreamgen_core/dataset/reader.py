"""A read-only view of a GR00T-LeRobot dataset written by `DatasetWriter`: metadata, arrays, frames.

Training (IDM, policy) and evaluation read episodes through this one class, so they agree on what
an episode's task, success flag and columns are. It is strict rather than forgiving: a missing or
malformed file, an episode whose parquet or video does not match its declared length, or an unknown
video key raises a DatasetError naming the file. It does not re-validate everything (that is
`dataset.validate`, which reads every byte); it checks what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dreamgen_core.dataset import layout as L
from dreamgen_core.dataset.stats import column_matrix
from dreamgen_core.video import decode_video

REQUIRED_META = ("info.json", "episodes.jsonl", "tasks.jsonl", "stats.json", "provenance.json")


@dataclass(frozen=True)
class EpisodeInfo:
    """One episode as meta/ describes it: its instruction, success flag and provenance entry."""

    index: int
    length: int
    task: str
    success: bool | None
    provenance: dict[str, Any]


@dataclass(frozen=True)
class EpisodeArrays:
    state: np.ndarray  # float32 [T, D]
    action: np.ndarray  # float32 [T, D]
    timestamps: np.ndarray  # float64 [T] seconds, frame_index / fps


class DatasetReader:
    """`DatasetReader(root)`: metadata is read once here; `arrays` and `frames` read one episode on demand."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        meta = self.root / "meta"
        if not self.root.is_dir():
            raise L.DatasetError(f"{self.root}: no such dataset directory")
        missing = [name for name in REQUIRED_META if not (meta / name).is_file()]
        if missing:
            raise L.DatasetError(f"{meta}: {', '.join(missing)} missing: {self.root} is not a dataset "
                                 "written by DatasetWriter")
        self.info: dict[str, Any] = L.read_json(meta / "info.json")
        self.stats: dict[str, Any] = L.read_json(meta / "stats.json")
        provenance = L.read_json(meta / "provenance.json")
        try:
            self.fps = float(self.info["fps"])
            features = self.info["features"]
            self.dim = int(features[L.STATE]["shape"][0])
            self.embodiment: str = provenance["embodiment"]["name"]
            self.embodiment_hash: str | None = provenance["embodiment"].get("content_hash") or None
            views = provenance["model_views"]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise L.DatasetError(f"{meta}: info.json/provenance.json: malformed: {type(exc).__name__}: {exc}") from exc
        self.video_keys = L.video_keys(features)
        self.model_view_key = _model_view_key(meta / "provenance.json", views, self.video_keys)
        self.tasks = _tasks(meta / "tasks.jsonl")
        self.episodes = _episodes(meta, provenance.get("episodes"), self.tasks)

    def __len__(self) -> int:
        return len(self.episodes)

    def episode(self, index: int) -> EpisodeInfo:
        if not 0 <= index < len(self.episodes):
            raise L.DatasetError(f"{self.root}: episode {index}: the dataset has episodes 0..{len(self.episodes) - 1}")
        return self.episodes[index]

    def arrays(self, index: int) -> EpisodeArrays:
        """State, action and timestamps of one episode, checked against its declared length and width."""
        length = self.episode(index).length
        path = self.root / L.data_file(index)
        try:
            table = pq.read_table(path, columns=[L.STATE, L.ACTION, L.TIMESTAMP])
        except (pa.ArrowException, OSError) as exc:
            raise L.DatasetError(f"{path}: unreadable parquet: {exc}") from exc
        if table.num_rows != length:
            raise L.DatasetError(f"{path}: {table.num_rows} rows: meta/episodes.jsonl says length {length}")
        state, action = (column_matrix(table.column(name)).astype(np.float32) for name in (L.STATE, L.ACTION))
        for name, matrix in ((L.STATE, state), (L.ACTION, action)):
            if matrix.shape != (length, self.dim):
                raise L.DatasetError(f"{path}: column {name}: shape {list(matrix.shape)}: expected [{length}, {self.dim}]")
        stamps = table.column(L.TIMESTAMP).to_numpy().astype(np.float64)
        return EpisodeArrays(state, action, stamps)

    def frames(self, index: int, video_key: str | None = None) -> np.ndarray:
        """uint8 [T, h, w, 3]: every frame of one episode's video (the model view by default)."""
        key = video_key or self.model_view_key
        if key not in self.video_keys:
            raise L.DatasetError(f"{self.root / 'meta' / 'info.json'}: features: {key!r}: not a video feature "
                                 f"(the dataset has {self.video_keys})")
        length = self.episode(index).length
        path = self.root / L.video_file(key, index)
        if not path.is_file():
            raise L.DatasetError(f"{path}: missing")
        try:
            frames = decode_video(path).frames
        except (OSError, ValueError) as exc:  # PyAV's errors derive from OSError/ValueError
            raise L.DatasetError(f"{path}: unreadable video: {exc}") from exc
        if len(frames) != length:
            raise L.DatasetError(f"{path}: {len(frames)} frames: meta/episodes.jsonl says length {length}")
        return frames


def _model_view_key(path: Path, views: dict[str, Any], video_keys: list[str]) -> str:
    """The first camera's model-view video key (the embodiment's camera order, as the writer stored it)."""
    keys = [view.get("video_key") for view in views.values()] if isinstance(views, dict) else []
    if not keys or keys[0] not in video_keys:
        raise L.DatasetError(f"{path}: model_views: {keys}: expected the model-view video key of a camera, "
                             f"one of the video features {video_keys}")
    return str(keys[0])


def _tasks(path: Path) -> list[str]:
    rows = L.read_jsonl(path)
    for position, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("task_index") != position or not isinstance(row.get("task"), str):
            raise L.DatasetError(f"{path}: line {position + 1}: {row}: expected task_index {position} and a task")
    return [row["task"] for row in rows]


def _episodes(meta: Path, provenance: Any, tasks: list[str]) -> list[EpisodeInfo]:
    rows = L.read_jsonl(meta / "episodes.jsonl")
    entries = {e.get("episode_index"): e for e in provenance} if isinstance(provenance, list) else {}
    episodes = []
    for position, row in enumerate(rows):
        where = f"{meta / 'episodes.jsonl'}: line {position + 1}"
        if not isinstance(row, dict) or row.get("episode_index") != position:
            raise L.DatasetError(f"{where}: {row}: expected episode_index {position}")
        length, texts = row.get("length"), row.get("tasks")
        if not isinstance(length, int) or length <= 0 or not texts or texts[0] not in tasks:
            raise L.DatasetError(f"{where}: length/tasks: {length!r}/{texts!r}: expected a positive length and "
                                 "an instruction from meta/tasks.jsonl")
        if position not in entries:
            raise L.DatasetError(f"{meta / 'provenance.json'}: episodes: no entry for episode {position}")
        entry = dict(entries[position])
        success = entry.get("success")
        episodes.append(EpisodeInfo(position, length, texts[0], None if success is None else bool(success), entry))
    return episodes
