"""How good an IDM's actions are: per-joint MAE / RMSE against recorded actions, beside trivial baselines.

Baselines (issue 9): hold the current state (every action of a chunk = the measured state at t)
and the training data's mean action. Errors are averaged only over the joints that move in the
IDM's training data (std ≥ `MOVING_STD`): a joint that never moves is predicted exactly by any
method and would only dilute the comparison. Used by the IDM's acceptance test and `idm eval`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dreamgen_core.idm.samples import action_chunks
from dreamgen_core.idm.stats import ActionStats

MOVING_STD = 1e-3  # rad: below this a joint counts as still in the training data


def per_joint_errors(predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(MAE [D], RMSE [D]) over every leading axis of predicted/actual [..., D] (frames or chunks)."""
    predicted, actual = np.asarray(predicted, np.float64), np.asarray(actual, np.float64)
    if predicted.shape != actual.shape:
        raise ValueError(f"predicted {list(predicted.shape)} and actual {list(actual.shape)} differ in shape")
    diff = (predicted - actual).reshape(-1, predicted.shape[-1])
    return np.abs(diff).mean(0), np.sqrt((diff ** 2).mean(0))


def moving_joints(stats: ActionStats, min_std: float = MOVING_STD) -> np.ndarray:
    """Bool [D]: the joints whose training actions vary."""
    return np.asarray(stats.std) >= min_std


def baseline_chunks(state: np.ndarray, stats: ActionStats, horizon: int) -> dict[str, np.ndarray]:
    """The trivial predictors' chunks [T, H, D] of an episode with measured `state` [T, D]."""
    hold = np.repeat(np.asarray(state, np.float32)[:, None], horizon, axis=1)
    mean = np.broadcast_to(np.asarray(stats.mean, np.float32), hold.shape)
    return {"hold_state": hold, "mean_action": mean}


@dataclass(frozen=True)
class Comparison:
    """Per-method MAE/RMSE [D] and their means over the moving joints."""

    mae: dict[str, np.ndarray]
    rmse: dict[str, np.ndarray]
    moving: np.ndarray

    def mean_mae(self, method: str) -> float:
        return float(self.mae[method][self.moving].mean())

    def mean_rmse(self, method: str) -> float:
        return float(self.rmse[method][self.moving].mean())

    def table(self, names: tuple[str, ...] | None = None) -> str:
        lines = [f"{'method':<14} {'MAE':>9} {'RMSE':>9}   (rad, mean over {int(self.moving.sum())} moving joints)"]
        lines += [f"{m:<14} {self.mean_mae(m):>9.4f} {self.mean_rmse(m):>9.4f}" for m in self.mae]
        if names is not None:
            lines.append("moving joints: " + ", ".join(n for n, m in zip(names, self.moving) if m))
        return "\n".join(lines)


def compare_chunks(predicted: Mapping[str, list[np.ndarray]], actions: list[np.ndarray], states: list[np.ndarray],
                   stats: ActionStats, horizon: int) -> Comparison:
    """Chunks per method (one [T, H, D] per episode) against each episode's recorded chunks, with the baselines added."""
    actual = np.concatenate([action_chunks(a, horizon) for a in actions])
    methods = {name: np.concatenate(chunks) for name, chunks in predicted.items()}
    for name in ("hold_state", "mean_action"):
        methods[name] = np.concatenate([baseline_chunks(s, stats, horizon)[name] for s in states])
    errors = {name: per_joint_errors(chunks, actual) for name, chunks in methods.items()}
    return Comparison({n: e[0] for n, e in errors.items()}, {n: e[1] for n, e in errors.items()}, moving_joints(stats))
