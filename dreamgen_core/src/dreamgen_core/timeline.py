"""One timeline for live nodes and the offline converter: frame clock and sample selection.

Datasets are sampled on a fixed frame clock t_i = t0 + i/fps. For each frame and each source
(joint states, commands, camera) we take the latest sample captured at or before t_i, and only
if it is younger than the source's tolerance: a stale sample is a gap, never silently reused.
Stamps are real capture stamps (message header stamps), never nominal ones. The converter uses
`select_latest` on whole episodes; a live node uses `LatestBuffer`, which answers with the same
rule one query at a time (tests/test_timeline.py pins the two together).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

NS = 1_000_000_000
T = TypeVar("T")


def frame_times(start_ns: int, end_ns: int, fps: float) -> np.ndarray:
    """t_i = start + i/fps (int64 ns, rounded) for every i with t_i <= end."""
    if end_ns < start_ns:
        return np.zeros(0, dtype=np.int64)
    count = int(np.floor((end_ns - start_ns) * fps / NS + 1e-9)) + 1
    return start_ns + np.round(np.arange(count) * (NS / fps)).astype(np.int64)


@dataclass(frozen=True)
class Selection:
    """Per query time: index of the chosen sample (-1: none), its age, and whether it is usable."""

    index: np.ndarray
    age_ns: np.ndarray
    valid: np.ndarray

    def first_gap(self) -> int | None:
        """Index of the first query with no usable sample, or None."""
        bad = np.flatnonzero(~self.valid)
        return int(bad[0]) if bad.size else None


def select_latest(stamps_ns: np.ndarray, query_ns: np.ndarray, tolerance_ns: int) -> Selection:
    """For each query, the latest stamp <= query, usable if query - stamp <= tolerance.

    `stamps_ns` must be non-decreasing (the converter rejects episodes whose stamps are not).
    """
    stamps_ns = np.asarray(stamps_ns, dtype=np.int64)
    query_ns = np.asarray(query_ns, dtype=np.int64)
    index = np.searchsorted(stamps_ns, query_ns, side="right") - 1
    has = index >= 0
    age = np.where(has, query_ns - stamps_ns[np.clip(index, 0, None)] if stamps_ns.size else 0, -1)
    return Selection(index=np.where(has, index, -1), age_ns=age.astype(np.int64),
                     valid=has & (age <= tolerance_ns))


def timing_columns(times_ns: np.ndarray, sources: Mapping[str, tuple[np.ndarray, Selection]]) -> dict[str, np.ndarray]:
    """The data behind every dataset row, as extra columns: the frame time and, per source (name →
    its capture stamps and the selection made from them), the capture stamp used and its age.
    The converter and the sim's own recorder write the same columns through this one function."""
    columns = {"observation.frame_time_ns": np.asarray(times_ns, dtype=np.int64)}
    for name, (stamps_ns, picked) in sources.items():
        columns[f"observation.capture_stamp_ns.{name}"] = np.asarray(stamps_ns, dtype=np.int64)[picked.index]
        columns[f"observation.age_s.{name}"] = (picked.age_ns / NS).astype(np.float32)
    return columns


class LatestBuffer(Generic[T]):
    """Live counterpart of `select_latest`: keeps recent (stamp, value) pairs of one source and
    answers "the latest value at or before t, if younger than the tolerance"."""

    def __init__(self, tolerance_ns: int, horizon_ns: int | None = None) -> None:
        self.tolerance_ns = tolerance_ns
        self.horizon_ns = horizon_ns if horizon_ns is not None else 10 * tolerance_ns
        self._items: deque[tuple[int, T]] = deque()

    def add(self, stamp_ns: int, value: T) -> None:
        if self._items and stamp_ns < self._items[-1][0]:
            raise ValueError(f"stamp {stamp_ns} is older than the previous one {self._items[-1][0]}")
        self._items.append((stamp_ns, value))
        while self._items and self._items[0][0] < stamp_ns - self.horizon_ns:
            self._items.popleft()

    def at(self, t_ns: int) -> tuple[T, int] | None:
        """(value, age_ns) of the latest sample at or before `t_ns` within tolerance, else None."""
        stamps = np.fromiter((s for s, _ in self._items), dtype=np.int64, count=len(self._items))
        chosen = select_latest(stamps, np.array([t_ns]), self.tolerance_ns)
        if not chosen.valid[0]:
            return None
        return self._items[int(chosen.index[0])][1], int(chosen.age_ns[0])
