"""ChunkExecutor: asynchronous action chunks executed at the control rate (pure, no ROS, no threads).

The synchronous loop of the anchors (observe, wait for the policy, execute the whole chunk, observe
again) stutters while it waits and jumps backwards when the next chunk starts from where the robot
was when it was *asked*. Here:
- every chunk is stamped with its observation's capture time, so the steps that elapsed while the
  policy thought are dropped and the robot continues from the step due now (latency compensation);
- the next chunk is requested while `request_ahead_s` of the newest chunk remain, so inference
  overlaps execution and the queue does not run dry while the policy keeps up;
- overlapping chunks are blended (`blend.BLENDS`), so a disagreeing chunk never jumps the target;
- a chunk whose observation is older than `max_age_s` is refused: it describes a world that has
  moved on (the safety monitor enforces the same bound on what it passes).
The node calls `request` and `act` on its control tick and `submit` when inference returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from dreamgen_core.deploy.blend import BLENDS, Blend
from dreamgen_core.deploy.errors import DeployError
from dreamgen_core.deploy.timed import Chunk
from dreamgen_core.embodiment import Embodiment

__all__ = ["Chunk", "ChunkConfig", "ChunkExecutor", "Submission"]


@dataclass(frozen=True)
class ChunkConfig:
    step_s: float  # time between a chunk's actions: 1 / dataset fps (what the policy was trained on)
    max_age_s: float  # refuse a chunk whose observation is older than this when it arrives
    request_ahead_s: float  # ask for the next chunk once this much of the newest chunk is left
    blend: str = "crossfade"  # a name in blend.BLENDS
    crossfade_s: float = 0.2
    ensemble_decay: float = 0.01

    @classmethod
    def from_spec(cls, spec: Embodiment, horizon: int, **overrides: object) -> ChunkConfig:
        """Steps at the dataset fps, the monitor's chunk age limit, and a request when half the
        chunk is left (inference may take up to half a chunk before the queue runs dry)."""
        step_s = 1.0 / spec.rates.dataset_fps
        base = cls(step_s=step_s, max_age_s=spec.safety.chunk_max_age_s, request_ahead_s=horizon * step_s / 2)
        return cls(**{**base.__dict__, **overrides})

    def make_blend(self) -> Blend:
        kind = BLENDS.load(self.blend, "chunk config", "blend")
        return kind(self.crossfade_s) if self.blend == "crossfade" else kind(self.ensemble_decay)


class Submission(NamedTuple):
    accepted: bool
    dropped_steps: int  # actions stamped before the arrival: they elapsed during inference
    reason: str


class ChunkExecutor:
    def __init__(self, config: ChunkConfig) -> None:
        if not (config.step_s > 0 and config.max_age_s > 0 and config.request_ahead_s >= 0):
            raise DeployError(f"chunk config needs step_s > 0, max_age_s > 0, request_ahead_s >= 0: {config}")
        self.config = config
        self.blend = config.make_blend()
        self.reset()

    def reset(self) -> None:
        """Forget every chunk and counter (a new episode, or the node deactivated)."""
        self.chunks: list[Chunk] = []
        self.pending_since: float | None = None  # a request is out since then
        self.accepted = self.refused = self.dropped_steps = self.dry_ticks = 0
        self.width: int | None = None

    def request(self, now_s: float) -> bool:
        """True (and marks a request out) when the next chunk should be computed now."""
        if self.pending_since is not None:
            return False
        newest = self.chunks[-1] if self.chunks else None
        if newest is not None and newest.end_s - now_s > self.config.request_ahead_s:
            return False
        self.pending_since = now_s
        return True

    def cancel(self) -> None:
        """The outstanding request will not answer (inference failed): allow a new one."""
        self.pending_since = None

    def submit(self, actions: np.ndarray, stamp_s: float, now_s: float) -> Submission:
        """A chunk predicted from the observation captured at `stamp_s`, arriving at `now_s`."""
        self.pending_since = None
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or len(actions) == 0 or (self.width is not None and actions.shape[1] != self.width):
            raise DeployError(f"a chunk must be [H, D] with D = {self.width or 'the first chunk’s'}; "
                              f"got shape {actions.shape}")
        age = now_s - stamp_s
        if age > self.config.max_age_s:
            return self._refuse(f"observation {age:.3f} s old > max_age_s {self.config.max_age_s:g}")
        chunk = Chunk(actions, stamp_s, self.config.step_s, now_s)
        if chunk.end_s < now_s:
            return self._refuse(f"all {len(actions)} actions elapsed during inference ({age:.3f} s)")
        self.width = actions.shape[1]
        self.chunks.append(chunk)
        self.accepted += 1
        dropped = len(actions) - chunk.remaining(now_s)
        self.dropped_steps += dropped
        return Submission(True, dropped, "")

    def act(self, now_s: float) -> np.ndarray | None:
        """The target due at `now_s`, or None when the queue has run dry (the newest chunk ended)."""
        if not self.chunks or self.chunks[-1].end_s < now_s:
            self.dry_ticks += bool(self.chunks)
            return None
        del self.chunks[:self.blend.settled(self.chunks, now_s)]
        return self.blend(self.chunks, now_s)

    def queue_depth(self, now_s: float) -> int:
        """Actions of the newest chunk still ahead of `now_s`."""
        return self.chunks[-1].remaining(now_s) if self.chunks else 0

    def staleness(self, now_s: float) -> float | None:
        """Age of the newest chunk's observation: how old the information driving the robot is."""
        return now_s - self.chunks[-1].stamp_s if self.chunks else None

    def _refuse(self, reason: str) -> Submission:
        self.refused += 1
        return Submission(False, 0, reason)
