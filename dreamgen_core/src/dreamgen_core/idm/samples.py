"""IDM training samples: every frame t of every episode, frames (t, min(t+k, T−1)), actions a_t … a_{t+H−1}.

Each episode's model-view video is decoded once, brought to the IDM's input size by the one
preprocessing function (`view.prepare_frames`) and cached as npz, keyed by the dataset's
fingerprint, the episode, the camera's recipe and the size: a resumed or repeated run reads them back.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dreamgen_core.atomic import write_bytes_atomic
from dreamgen_core.dataset.reader import DatasetReader
from dreamgen_core.embodiment.spec import Camera
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.stats import ActionStats
from dreamgen_core.idm.view import MODEL_VIEW, prepare_frames


def pair_indices(length: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(t, min(t + k, length − 1)) for every frame t of an episode of `length` frames."""
    if length < 1 or k < 1:
        raise IdmError(f"pair_indices: length {length} and k {k} must be at least 1")
    t = np.arange(length)
    return t, np.minimum(t + k, length - 1)


def action_chunks(actions: np.ndarray, horizon: int) -> np.ndarray:
    """[T, D] → [T, horizon, D]: row t holds a_t … a_{t+horizon−1}, the last action repeated past the end."""
    index = np.minimum(np.arange(len(actions))[:, None] + np.arange(horizon)[None], len(actions) - 1)
    return actions[index]


@dataclass(frozen=True)
class Episode:
    frames: np.ndarray   # uint8 [T, h, w, 3]: the IDM's input size
    actions: np.ndarray  # float32 [T, D], joint units


class TrainingSet:
    """All samples of some episodes; `batch` returns the model's inputs for sample indices."""

    def __init__(self, episodes: list[Episode], stats: ActionStats, k: int, horizon: int) -> None:
        if not episodes:
            raise IdmError("no episodes to train on")
        self.episodes, self.k = episodes, k
        # only the dimensions that vary: the network models those alone (`ActionStats.active`)
        self.normalized = [action_chunks(stats.normalize(e.actions)[:, stats.active], horizon) for e in episodes]
        self.pairs = [pair_indices(len(e.actions), k) for e in episodes]
        self.index = np.concatenate([np.stack([np.full(len(e.actions), i), np.arange(len(e.actions))], 1)
                                     for i, e in enumerate(episodes)])

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, indices: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first frames, second frames, normalized action chunks of the active dimensions) of the samples `indices`."""
        rows = self.index[indices]
        first = np.stack([self.episodes[e].frames[t] for e, t in rows])
        second = np.stack([self.episodes[e].frames[self.pairs[e][1][t]] for e, t in rows])
        chunks = np.stack([self.normalized[e][t] for e, t in rows])
        return first, second, chunks


def load_episodes(readers: list[DatasetReader], fingerprints: list[str], camera: Camera, image_hw: tuple[int, int],
                  cache: Path, progress: bool = True) -> list[Episode]:
    """Every episode of every dataset, frames prepared once (cached under `cache`)."""
    jobs = [(r, f, e.index) for r, f in zip(readers, fingerprints) for e in r.episodes]
    episodes = []
    for reader, fingerprint, index in tqdm(jobs, desc="idm frames", unit="episode", disable=not progress):
        arrays = reader.arrays(index)
        key = _cache_key(fingerprint, index, reader.model_view_key, camera, image_hw)
        path = cache / f"{key}.npz"
        frames = _read_cached(path, len(arrays.action))
        if frames is None:
            frames = prepare_frames(reader.frames(index), MODEL_VIEW, camera, image_hw)
            buffer = io.BytesIO()
            np.savez(buffer, frames=frames)
            write_bytes_atomic(path, buffer.getvalue())
        if len(frames) != len(arrays.action):
            raise IdmError(f"{reader.root}: episode {index}: {len(frames)} frames but {len(arrays.action)} actions")
        episodes.append(Episode(frames, arrays.action.astype(np.float32)))
    return episodes


def _cache_key(fingerprint: str, index: int, video_key: str, camera: Camera, image_hw: tuple[int, int]) -> str:
    text = json.dumps([fingerprint, index, video_key, asdict(camera.model_view), list(image_hw)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _read_cached(path: Path, length: int) -> np.ndarray | None:
    try:
        with np.load(path) as data:
            frames = data["frames"]
    except (OSError, KeyError, ValueError):
        return None  # missing or damaged: prepared again
    return frames if len(frames) == length else None
