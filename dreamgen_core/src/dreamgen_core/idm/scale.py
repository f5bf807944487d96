"""The scale check of every label run: do the labels move as much as the IDM's training actions did?

The reference pipeline's bug (a stats file from other data, so every label is rescaled) shows as
labels "much smaller than real" and nothing catches it. Here, per joint, the std of all labels of
the run is compared with the std of the IDM's training actions; a joint whose ratio leaves
[low, high] (default [0.5, 2]) is named in a WARNING. Joints that hardly moved in training
(std below `min_std`) are left out: their ratio is noise. A heuristic, not proof: dreams of other
tasks may move some joints legitimately more or less than the demos did.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dreamgen_core.idm.errors import IdmError

LOG = logging.getLogger("dreamgen.idm.label")
DEFAULT_RANGE = (0.5, 2.0)
MIN_STD = 1e-3  # rad: below this a joint is taken to be still in the training data


@dataclass(frozen=True)
class JointScale:
    joint: str
    label_std: float
    train_std: float
    ratio: float


@dataclass(frozen=True)
class ScaleReport:
    low: float
    high: float
    frames: int
    checked: tuple[JointScale, ...]     # joints that moved in training
    flagged: tuple[str, ...]            # joints whose ratio is outside [low, high]

    @property
    def ok(self) -> bool:
        return not self.flagged

    def message(self) -> str:
        if self.ok:
            return (f"scale check: per-joint label std / IDM training std within [{self.low:g}, {self.high:g}] for "
                    f"all {len(self.checked)} moving joints ({self.frames} labelled frames)")
        ratios = {j.joint: j.ratio for j in self.checked}
        named = ", ".join(f"{name} ({ratios[name]:.2f})" for name in self.flagged)
        return (f"scale check: {len(self.flagged)} of {len(self.checked)} joints have label std / IDM training std "
                f"outside [{self.low:g}, {self.high:g}]: {named}. Labels at the wrong scale: was the IDM trained on "
                "this robot's data with its own stats, and do the dreams show the tasks it was trained on?")

    def to_dict(self) -> dict:
        return {"ok": self.ok, **asdict(self)}


def parse_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise IdmError(f"--scale-range {text!r}: expected LOW,HIGH (e.g. 0.5,2)") from None
    if not 0 < low < 1 < high:
        raise IdmError(f"--scale-range {text!r}: expected 0 < LOW < 1 < HIGH")
    return low, high


def check_scale(labels: Sequence[np.ndarray], train_std: np.ndarray, joints: Sequence[str],
                bounds: tuple[float, float] = DEFAULT_RANGE, min_std: float = MIN_STD) -> ScaleReport:
    """Per-joint std of the concatenated labels [N_i, D] against `train_std` [D]; logs the verdict."""
    low, high = bounds
    stacked = np.concatenate([np.asarray(a, dtype=np.float64) for a in labels]) if labels else np.zeros((0, len(joints)))
    label_std = stacked.std(axis=0) if len(stacked) else np.zeros(len(joints))
    checked = tuple(JointScale(name, float(label_std[i]), float(train_std[i]), float(label_std[i] / train_std[i]))
                    for i, name in enumerate(joints) if train_std[i] >= min_std)
    flagged = tuple(j.joint for j in checked if not low <= j.ratio <= high)
    report = ScaleReport(low, high, len(stacked), checked, flagged)
    (LOG.info if report.ok else LOG.warning)(report.message())
    return report
