"""Latency of a runtime, one number per call: percentiles and a histogram, for logs, reports and plots.

Users report GR00T 1.5-3x slower on robots than on paper, mostly outside the network (CPU
preprocessing, tokenizers). So a runtime times the whole `act` (preprocessing, inference,
denormalization) and the inference alone, side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

HISTOGRAM_BINS = 20


@dataclass
class LatencyStats:
    """Seconds per call, in call order."""

    samples: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    def clear(self) -> None:
        self.samples.clear()

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.samples, q) * 1e3) if self.samples else float("nan")

    def histogram(self, bins: int = HISTOGRAM_BINS) -> tuple[list[int], list[float]]:
        """Counts and the bin edges (ms), log-spaced between the fastest and the slowest call."""
        ms = np.asarray(self.samples) * 1e3
        if not len(ms):
            return [], []
        low, high = float(ms.min()), float(ms.max())
        edges = np.geomspace(low, high, bins + 1) if high > low > 0 else np.linspace(low, low + 1e-3, bins + 1)
        counts, _ = np.histogram(ms, bins=edges)
        return counts.tolist(), edges.tolist()

    def summary(self) -> dict[str, Any]:
        counts, edges = self.histogram()
        return {"calls": len(self.samples), "p50_ms": self.percentile_ms(50), "p90_ms": self.percentile_ms(90),
                "p99_ms": self.percentile_ms(99), "max_ms": self.percentile_ms(100),
                "histogram": {"counts": counts, "edges_ms": edges}}
