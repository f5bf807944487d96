"""The temporal ensemble of overlapping action chunks: per frame, the mean of every chunk covering it.

The IDM predicts a chunk a_t … a_{t+H-1} at every frame t, so frame s is covered by the chunks of
t = s-H+1 … s (fewer near the start). `temporal_ensemble` averages those predictions, always in the
same order (chunk offset h = 0 … H-1), so the result depends only on the chunks, never on which
worker computed what or when it finished. Predictions past the end of the episode are dropped.
"""

from __future__ import annotations

import numpy as np

from dreamgen_core.idm.errors import IdmError


def temporal_ensemble(chunks: np.ndarray) -> np.ndarray:
    """chunks float [T, H, D] (chunk t predicts frames t … t+H-1) → float32 [T, D], the mean per frame."""
    if chunks.ndim != 3 or not len(chunks):
        raise IdmError(f"action chunks: shape {list(chunks.shape)}: expected [T > 0, H, D]")
    length, horizon, dim = chunks.shape
    sums = np.zeros((length + horizon - 1, dim), dtype=np.float64)
    counts = np.zeros(length + horizon - 1, dtype=np.int64)
    for h in range(horizon):  # fixed order: the sum is the same whatever produced the chunks
        sums[h:h + length] += chunks[:, h]
        counts[h:h + length] += 1
    return (sums[:length] / counts[:length, None]).astype(np.float32)
