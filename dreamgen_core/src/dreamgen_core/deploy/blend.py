"""How overlapping chunks become one target: a config name picks the blend (`BLENDS`).

When a new chunk arrives while the previous one still covers the coming steps, switching at once
would jump by however much the two predictions disagree. Both blends below spread that change:
- "crossfade" (real-time-chunking style): the new chunk's weight rises linearly from 0 to 1 over
  `crossfade_s` from its arrival; a jump of D between the chunks becomes D * period / crossfade_s
  per control period at most.
- "ensemble" (ACT's temporal ensemble): every chunk covering the time votes with weight
  exp(-decay * i), i = 0 for the oldest; decay > 0 favours older predictions (smoother).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from dreamgen_core.deploy.timed import Chunk
from dreamgen_core.registry import Registry


class Blend(Protocol):
    def __call__(self, chunks: Sequence[Chunk], now_s: float) -> np.ndarray: ...

    def settled(self, chunks: Sequence[Chunk], now_s: float) -> int:
        """How many of the oldest chunks no longer affect any target from `now_s` on (safe to drop)."""
        ...


class Crossfade:
    def __init__(self, crossfade_s: float) -> None:
        if not crossfade_s >= 0:
            raise ValueError(f"crossfade_s must be >= 0, got {crossfade_s}")
        self.crossfade_s = crossfade_s

    def weight(self, chunk: Chunk, now_s: float) -> float:
        if self.crossfade_s == 0:
            return 1.0
        return min(max((now_s - chunk.arrival_s) / self.crossfade_s, 0.0), 1.0)

    def __call__(self, chunks: Sequence[Chunk], now_s: float) -> np.ndarray:
        # Recursive: a chunk that arrives mid-fade fades in over what the targets were becoming.
        out = chunks[0].at(now_s)
        for chunk in chunks[1:]:
            w = self.weight(chunk, now_s)
            out = (1.0 - w) * out + w * chunk.at(now_s)
        return out

    def settled(self, chunks: Sequence[Chunk], now_s: float) -> int:
        faded_in = [i for i, chunk in enumerate(chunks) if self.weight(chunk, now_s) >= 1.0]
        return faded_in[-1] if faded_in else 0


class Ensemble:
    def __init__(self, decay: float) -> None:
        if not math.isfinite(decay):
            raise ValueError(f"ensemble decay must be finite, got {decay}")
        self.decay = decay

    def __call__(self, chunks: Sequence[Chunk], now_s: float) -> np.ndarray:
        covering = [c for c in chunks if c.covers(now_s)] or [chunks[-1]]
        weights = np.exp(-self.decay * np.arange(len(covering)))
        stacked = np.stack([c.at(now_s) for c in covering])
        return (weights[:, None] * stacked).sum(axis=0) / weights.sum()

    def settled(self, chunks: Sequence[Chunk], now_s: float) -> int:
        # A chunk that has ended never votes again; keep at least the newest.
        ended = [i for i, c in enumerate(chunks[:-1]) if c.end_s < now_s]
        return ended[-1] + 1 if ended else 0


BLENDS = Registry("chunk blend", {"crossfade": "dreamgen_core.deploy.blend:Crossfade",
                                  "ensemble": "dreamgen_core.deploy.blend:Ensemble"})
