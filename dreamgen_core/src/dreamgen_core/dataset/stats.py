"""meta/stats.json: mean/std/min/max/q01/q99 per column over the whole dataset.

Quantiles do not merge across episodes, so stats are always recomputed from every parquet file;
the validator recomputes with the same function and compares. Each statistic is a list of the
feature's width (1 for scalars), as LeRobot stores them; std is the population std.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

STAT_NAMES = ("mean", "std", "min", "max", "q01", "q99")


def column_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numeric or list column as float64 [rows, width]."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_list(array.type) or pa.types.is_fixed_size_list(array.type):
        values = array.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
        return values.reshape(len(array), -1) if len(array) else values.reshape(0, 0)
    return array.to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, 1)


def summarize(matrix: np.ndarray) -> dict[str, list[float]]:
    stats = {"mean": matrix.mean(axis=0), "std": matrix.std(axis=0), "min": matrix.min(axis=0),
             "max": matrix.max(axis=0), "q01": np.quantile(matrix, 0.01, axis=0),
             "q99": np.quantile(matrix, 0.99, axis=0)}
    return {name: [float(v) for v in stats[name]] for name in STAT_NAMES}


def dataset_stats(tables: Iterable[pa.Table], columns: list[str]) -> dict[str, dict[str, list[float]]]:
    """Stats of `columns` over the concatenation of `tables` (empty dict when there are no rows)."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in columns}
    for table in tables:
        for name in columns:
            parts[name].append(column_matrix(table.column(name)))
    if not any(len(p) for p in parts.values()):
        return {}
    return {name: summarize(np.concatenate(parts[name])) for name in columns}
