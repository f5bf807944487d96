"""A chunk on the clock: action i of a chunk predicted from the observation at `stamp_s` is the
target for `stamp_s + i * step_s` (the dataset's convention: the action at a frame is the target
commanded at that frame). Between actions targets are interpolated linearly; past the last one
the last is held (only a blend with a newer chunk reads there)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Chunk:
    actions: np.ndarray  # float64 [H, D]
    stamp_s: float  # capture time of the observation it was predicted from
    step_s: float
    arrival_s: float  # when the executor accepted it

    @property
    def end_s(self) -> float:
        return self.stamp_s + (len(self.actions) - 1) * self.step_s

    def covers(self, now_s: float) -> bool:
        return self.stamp_s <= now_s <= self.end_s

    def at(self, now_s: float) -> np.ndarray:
        position = min(max((now_s - self.stamp_s) / self.step_s, 0.0), len(self.actions) - 1.0)
        i = min(int(np.floor(position)), len(self.actions) - 2) if len(self.actions) > 1 else 0
        frac = position - i
        if len(self.actions) == 1 or frac <= 0.0:
            return self.actions[i].copy()
        return (1.0 - frac) * self.actions[i] + frac * self.actions[i + 1]

    def remaining(self, now_s: float) -> int:
        """Actions still ahead: those stamped after `now_s`."""
        passed = int(np.floor((now_s - self.stamp_s) / self.step_s + 1e-9)) + 1
        return max(len(self.actions) - max(passed, 0), 0)
