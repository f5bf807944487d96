"""The on-disk facts of GR00T's flavour of LeRobot v2.0, shared by the writer, validator and clips.

Path templates use LeRobot's placeholder names (`episode_chunk`, `episode_index`, `video_key`)
because GR00T's and LeRobot's loaders fill them with exactly those keywords.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dreamgen_core.atomic import write_text_atomic

CODEBASE_VERSION = "v2.0"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

STATE = "observation.state"
ACTION = "action"
TIMESTAMP = "timestamp"
FRAME_INDEX = "frame_index"
EPISODE_INDEX = "episode_index"
INDEX = "index"
TASK_INDEX = "task_index"
TASK_DESCRIPTION = "annotation.human.action.task_description"
VALIDITY = "annotation.human.validity"
REWARD = "next.reward"
DONE = "next.done"

# Scalar columns every episode has, with their dtype (feature shape [1], names null).
SCALAR_COLUMNS = {TIMESTAMP: "float32", FRAME_INDEX: "int64", EPISODE_INDEX: "int64", INDEX: "int64",
                  TASK_INDEX: "int64", TASK_DESCRIPTION: "int64", VALIDITY: "int64", REWARD: "float32", DONE: "bool"}
VECTOR_COLUMNS = (STATE, ACTION)

META_FILES = ("info.json", "modality.json", "episodes.jsonl", "tasks.jsonl", "stats.json", "provenance.json")


class DatasetError(ValueError):
    """A dataset or its input is malformed; the message names the file or episode, key and value."""


def chunk_of(episode_index: int) -> int:
    return episode_index // CHUNKS_SIZE


def data_file(episode_index: int) -> str:
    return DATA_PATH.format(episode_chunk=chunk_of(episode_index), episode_index=episode_index)


def video_file(video_key: str, episode_index: int) -> str:
    return VIDEO_PATH.format(episode_chunk=chunk_of(episode_index), video_key=video_key, episode_index=episode_index)


def timestamps(length: int, fps: float) -> np.ndarray:
    """The one definition of a row's timestamp: frame_index / fps, as float32, frame 0 at 0.0."""
    return (np.arange(length, dtype=np.float64) / fps).astype(np.float32)


def scalar_feature(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "shape": [1], "names": None}


def vector_feature(names: tuple[str, ...]) -> dict[str, Any]:
    return {"dtype": "float32", "shape": [len(names)], "names": list(names)}


def video_feature(size_hw: tuple[int, int], fps: float) -> dict[str, Any]:
    return {"dtype": "video", "shape": [size_hw[0], size_hw[1], 3], "names": ["height", "width", "channel"],
            "video_info": {"video.fps": fps, "video.codec": "h264", "video.pix_fmt": "yuv420p",
                           "video.is_depth_map": False, "has_audio": False}}


def arrow_type(feature: dict[str, Any]) -> pa.DataType:
    """The parquet column type a (non-video) feature is stored as: scalars plain, vectors as lists."""
    scalar = pa.from_numpy_dtype(np.dtype(feature["dtype"]))
    return scalar if list(feature["shape"]) == [1] else pa.list_(scalar)


def arrow_schema(features: dict[str, dict[str, Any]]) -> pa.Schema:
    return pa.schema([(name, arrow_type(f)) for name, f in features.items() if f["dtype"] != "video"])


def video_keys(features: dict[str, dict[str, Any]]) -> list[str]:
    return [name for name, f in features.items() if f["dtype"] == "video"]


def write_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc


def read_jsonl(path: Path) -> list[Any]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: line {number}: invalid JSON: {exc.msg}") from exc
    return rows
