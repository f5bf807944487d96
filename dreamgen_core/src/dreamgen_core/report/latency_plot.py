"""The control loop's latency histogram as a PNG, from a runtime's counts and bin edges (`LatencyStats`)."""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from pathlib import Path

from dreamgen_core.atomic import write_bytes_atomic


def plot_latency(counts: Sequence[int], edges_ms: Sequence[float], path: Path, title: str = "policy act() latency") -> None:
    """Bars over the (log-spaced) bins; the x axis in ms, log scale when the edges are."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.6), dpi=100)
    axes = figure.subplots()
    widths = [b - a for a, b in itertools.pairwise(edges_ms)]
    axes.bar(list(edges_ms[:-1]), list(counts), width=widths, align="edge", edgecolor="black", linewidth=0.4)
    if edges_ms and edges_ms[0] > 0 and edges_ms[-1] / edges_ms[0] > 10:
        axes.set_xscale("log")
    axes.set_xlabel("latency per call (ms)")
    axes.set_ylabel("calls")
    axes.set_title(f"{title}: {sum(counts)} calls", fontsize=9)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(path, buffer.getvalue())
