"""The IDM's action statistics: computed from the actions it trains on, shipped in its checkpoint.

Actions are normalized min-max to [-1, 1] per dimension with these stats, and the IDM's outputs
are mapped back with the same ones; a dream dataset's stats.json is these too. Never a global
stats file: an IDM trained on other data would rescale every label silently. A dimension that
never moves in training (max − min below `CONSTANT_SPAN`) normalizes to 0 and maps back to its value;
the network does not model it at all (`active`): on the GR1 that leaves the 7 arm joints of 44.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dreamgen_core.idm.errors import IdmError

CONSTANT_SPAN = 1e-6
FIELDS = ("min", "max", "mean", "std")


@dataclass(frozen=True, eq=False)
class ActionStats:
    min: np.ndarray   # float64 [D] each
    max: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, actions: Sequence[np.ndarray]) -> ActionStats:
        """Stats of every row of `actions` (episodes' [T, D] arrays) together."""
        rows = np.concatenate([np.asarray(a, dtype=np.float64) for a in actions])
        if not len(rows):
            raise IdmError("no actions to compute stats from (every episode is empty)")
        return cls(rows.min(0), rows.max(0), rows.mean(0), rows.std(0))

    @property
    def dim(self) -> int:
        return len(self.min)

    @property
    def active(self) -> np.ndarray:
        """Bool [D]: the dimensions that vary in training — the only ones the network models."""
        return self._span()[1]

    def _span(self) -> tuple[np.ndarray, np.ndarray]:
        span = self.max - self.min
        moving = span >= CONSTANT_SPAN
        return np.where(moving, span, 1.0), moving

    def normalize(self, actions: np.ndarray) -> np.ndarray:
        """Joint units → [-1, 1] (float32); still dimensions → 0."""
        span, moving = self._span()
        return np.where(moving, 2.0 * (actions - self.min) / span - 1.0, 0.0).astype(np.float32)

    def denormalize(self, normalized: np.ndarray) -> np.ndarray:
        """[-1, 1] → joint units (float32); still dimensions → their one value."""
        span, moving = self._span()
        return np.where(moving, (np.asarray(normalized, np.float64) + 1.0) / 2.0 * span + self.min,
                        self.min).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {name: [float(v) for v in getattr(self, name)] for name in FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str, dim: int) -> ActionStats:
        """Stats read from `source` (a file, for messages): each of min/max/mean/std a list of `dim` numbers."""
        if not isinstance(data, Mapping) or set(data) != set(FIELDS):
            raise IdmError(f"{source}: stats: expected the keys {list(FIELDS)}, got "
                           f"{sorted(data) if isinstance(data, Mapping) else data!r}")
        arrays = {}
        for name in FIELDS:
            try:
                arrays[name] = np.asarray(data[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise IdmError(f"{source}: stats.{name}: not a list of numbers") from None
            if arrays[name].shape != (dim,) or not np.isfinite(arrays[name]).all():
                raise IdmError(f"{source}: stats.{name}: expected {dim} finite numbers (the layout's width), "
                               f"got shape {list(arrays[name].shape)}")
        if (arrays["max"] < arrays["min"]).any():
            raise IdmError(f"{source}: stats: max below min at dimensions {np.flatnonzero(arrays['max'] < arrays['min']).tolist()}")
        return cls(**arrays)
