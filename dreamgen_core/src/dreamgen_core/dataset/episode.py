"""One aligned episode as the dataset writer takes it, checked once before anything is written.

The converter (rosbag → episode) and the IDM labeller (dream → episode) both produce this; the
writer never guesses: wrong widths, lengths, dtypes or non-finite values are refused with the
episode's source key in the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dreamgen_core.dataset.layout import SCALAR_COLUMNS, VECTOR_COLUMNS, DatasetError
from dreamgen_core.embodiment import Embodiment

ORIGINS = ("real", "dreamed")


@dataclass
class EpisodeData:
    """state/action [N, dim] in the embodiment's layout (unused slots 0); frames: N native RGB uint8
    frames per camera key of the embodiment, consumed once, lazily (the same array object yielded
    twice in a row is taken to be the same frame and transformed once); or instead `videos`: the
    episode's mp4 files per dataset video key, already encoded by `dataset.videos.encode_videos`
    (the converter encodes in its workers), which the writer checks and moves in;
    source_key: idempotency key (e.g. the source bag's sha256); provenance must say `origin`
    ("real" or "dreamed")."""

    state: np.ndarray
    action: np.ndarray
    frames: Mapping[str, Iterable[np.ndarray]]
    task: str
    source_key: str
    success: bool
    provenance: Mapping[str, Any]
    validity: str = "valid"
    extra_columns: Mapping[str, np.ndarray] = field(default_factory=dict)
    videos: Mapping[str, Path] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return len(self.state)

    def checked(self, spec: Embodiment) -> EpisodeData:
        """This episode with float32 state/action, or a DatasetError naming what is wrong."""
        who = f"episode {self.source_key!r}"
        if not self.source_key:
            raise DatasetError("episode: source_key: '': an idempotency key is required (e.g. the source bag hash)")
        if not self.task.strip() or not self.validity.strip():
            raise DatasetError(f"{who}: task/validity: {self.task!r}/{self.validity!r}: must be non-empty strings")
        if self.provenance.get("origin") not in ORIGINS:
            raise DatasetError(f"{who}: provenance.origin: {self.provenance.get('origin')!r}: must be one of {ORIGINS}")
        state, action = (_vectors(who, name, value, spec.dim) for name, value in (("state", self.state),
                                                                                ("action", self.action)))
        if len(action) != len(state) or not len(state):
            raise DatasetError(f"{who}: action: {len(action)} rows: must match state ({len(state)} rows, > 0)")
        cameras = [] if self.videos else sorted(spec.cameras)  # with encoded videos, no frames
        if sorted(self.frames) != cameras:
            raise DatasetError(f"{who}: frames: {sorted(self.frames)}: expected camera keys {cameras}")
        for name, column in self.extra_columns.items():
            _check_extra(who, name, np.asarray(column), len(state))
        extras = {name: np.asarray(column) for name, column in self.extra_columns.items()}
        return EpisodeData(state, action, self.frames, self.task, self.source_key, bool(self.success),
                           dict(self.provenance), self.validity, extras, dict(self.videos))


def _vectors(who: str, name: str, value: np.ndarray, dim: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 2 or array.shape[1] != dim or array.dtype.kind != "f":
        raise DatasetError(f"{who}: {name}: {array.dtype} {list(array.shape)}: expected float [N, {dim}]")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        raise DatasetError(f"{who}: {name}[{bad[0]}]: non-finite value ({bad.size} rows affected)")
    return array.astype(np.float32)


def _check_extra(who: str, name: str, column: np.ndarray, length: int) -> None:
    if name in SCALAR_COLUMNS or name in VECTOR_COLUMNS or name.startswith("observation.images."):
        raise DatasetError(f"{who}: extra_columns.{name}: collides with a standard column")
    if column.shape != (length,) or column.dtype.kind not in "biuf":
        raise DatasetError(f"{who}: extra_columns.{name}: {column.dtype} {list(column.shape)}: "
                           f"expected one number per frame [{length}] (bool, int or float)")
