"""Observation → model inputs: the ONE function training and every runtime call (`prepare`).

    inputs = prepare({"observation.images.ego_view": frame}, state, norm)   # PolicyInputs
    inputs = prepare({"observation.images.ego_view": frame}, None, norm)    # a dream sample: state masked

Images: uint8 [h, w, 3] model-view frames, one per key of `norm.video_keys`, resized to
`norm.image_size` square (`dreamgen_core.video.resize`: area averaging when shrinking), then float32
in [0, 1], channels first → [Ncam, 3, S, S]. A frame already at S×S is not resampled, so training
may resize each decoded frame once, cache it, and still pass it through this very function.
State: min-max to [-1, 1] with the REAL datasets' range (`PolicyNorm`), read only for the joints
the training actions moved (range at least STATE_STILL_SPAN); the others map to 0. A joint nobody
commanded carries nothing the policy acts on: its measured value only jitters under the arm's
reaction forces (a few mrad, which min-max stretched over the whole input range) or sits where the
safety margin put it (fingers 0.05 rad inside their open limit behind the safety monitor, at the
limit in an expert recording without it). Read, either one sent the sim policy's arm targets over
1 rad astray in closed loop.
`state=None` (IDM-labelled dreams have no measured state) gives zeros and state_mask 0, and the
network multiplies the state by the mask, so a dream sample says nothing about state rather than
claiming the robot stood at zero.

`PolicyNorm` is everything this function and the action scaling need, saved in the checkpoint and
in an exported policy's manifest: state/action min/max (and q01/q99, for out-of-range warnings),
the image size and the order of the video keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.video import resize

FLAT_SPAN = 1e-6  # a joint whose range is narrower than this never moved: it maps to 0 and back to its value
STATE_STILL_SPAN = 0.1  # joint units (rad): the state of a joint the training actions moved less is not read (→ 0)
VECTORS = ("state_min", "state_max", "state_q01", "state_q99", "action_min", "action_max", "action_q01", "action_q99")


@dataclass(frozen=True)
class PolicyInputs:
    """float32 numpy: image [Ncam, 3, S, S] in [0, 1]; state [D] in [-1, 1] (0 where masked); state_mask [1]."""

    image: np.ndarray
    state: np.ndarray
    state_mask: np.ndarray


@dataclass(frozen=True, eq=False)
class PolicyNorm:
    """Input/output scaling from the real training data; vectors float32 [D] in the embodiment's layout."""

    state_min: np.ndarray
    state_max: np.ndarray
    state_q01: np.ndarray
    state_q99: np.ndarray
    action_min: np.ndarray
    action_max: np.ndarray
    action_q01: np.ndarray
    action_q99: np.ndarray
    image_size: int
    video_keys: tuple[str, ...]

    @property
    def dim(self) -> int:
        return len(self.state_min)

    def normalize_state(self, state: np.ndarray) -> np.ndarray:
        commanded = self.action_max - self.action_min >= STATE_STILL_SPAN
        return np.where(commanded, to_unit(state, self.state_min, self.state_max), np.float32(0)).astype(np.float32)

    def normalize_action(self, action: np.ndarray) -> np.ndarray:
        return to_unit(action, self.action_min, self.action_max)

    def denormalize_action(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] → joint units; inverse of normalize_action inside the range."""
        lo, hi = self.action_min, self.action_max
        return ((np.asarray(action, dtype=np.float32) + 1) * np.float32(0.5) * (hi - lo) + lo).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: [float(v) for v in getattr(self, name)] for name in VECTORS}
        return {**data, "image_size": self.image_size, "video_keys": list(self.video_keys)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<norm>") -> PolicyNorm:
        """Read back `to_dict`'s output; PolicyError naming `source` and the key on anything missing or ragged."""
        try:
            vectors = {name: np.asarray(data[name], dtype=np.float32) for name in VECTORS}
            size, keys = int(data["image_size"]), tuple(str(k) for k in data["video_keys"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PolicyError(f"{source}: norm: missing or malformed key ({type(exc).__name__}: {exc}); "
                              f"expected {[*VECTORS, 'image_size', 'video_keys']}") from exc
        widths = {name: v.shape for name, v in vectors.items()}
        if len({shape for shape in widths.values()}) != 1 or len(vectors["state_min"].shape) != 1:
            raise PolicyError(f"{source}: norm: vectors of different shapes {widths}: expected one width D")
        if not keys or size < 1:
            raise PolicyError(f"{source}: norm: image_size {size} / video_keys {list(keys)}: need a size and a key")
        return cls(**vectors, image_size=size, video_keys=keys)


def to_unit(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Min-max to [-1, 1], float32; flat dimensions (span < FLAT_SPAN) → 0."""
    values = np.asarray(values, dtype=np.float32)
    span = hi - lo
    moving = span >= FLAT_SPAN
    scaled = (values - lo) / np.where(moving, span, np.float32(1)) * np.float32(2) - np.float32(1)
    return np.where(moving, scaled, np.float32(0)).astype(np.float32)


def norm_from_arrays(states: np.ndarray, actions: np.ndarray, image_size: int, video_keys: Sequence[str]) -> PolicyNorm:
    """The norm of stacked real state/action rows [N, D] (quantiles as `dataset.stats` computes them)."""
    def stats(matrix: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(f(matrix), dtype=np.float32) for f in
                (lambda m: m.min(0), lambda m: m.max(0), lambda m: np.quantile(m, 0.01, axis=0),
                 lambda m: np.quantile(m, 0.99, axis=0))]

    s_min, s_max, s_q01, s_q99 = stats(np.asarray(states, dtype=np.float64))
    a_min, a_max, a_q01, a_q99 = stats(np.asarray(actions, dtype=np.float64))
    return PolicyNorm(s_min, s_max, s_q01, s_q99, a_min, a_max, a_q01, a_q99, int(image_size), tuple(video_keys))


def shrink(frame: np.ndarray, norm: PolicyNorm) -> np.ndarray:
    """uint8 [h, w, 3] → uint8 [S, S, 3]: prepare's resampling, alone (a frame already S×S is returned as is).
    Training keeps decoded frames this small; `prepare` of the kept frame equals `prepare` of the original."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise PolicyError(f"observation: image: {frame.dtype} {list(frame.shape)}: expected uint8 [h, w, 3]")
    return resize(frame, (norm.image_size, norm.image_size))


def prepare(images: Mapping[str, np.ndarray], state: np.ndarray | None, norm: PolicyNorm) -> PolicyInputs:
    """One observation → model inputs (see the module doc). PolicyError on a missing camera or a wrong shape."""
    planes = []
    for key in norm.video_keys:
        if key not in images:
            raise PolicyError(f"observation: no image for video key {key!r} (got {sorted(images)})")
        try:
            small = shrink(images[key], norm)
        except PolicyError as exc:
            raise PolicyError(str(exc).replace("image:", f"image {key!r}:", 1)) from None
        planes.append(small.astype(np.float32).transpose(2, 0, 1) / np.float32(255))
    image = np.stack(planes)
    if state is None:
        return PolicyInputs(image, np.zeros(norm.dim, dtype=np.float32), np.zeros(1, dtype=np.float32))
    state = np.asarray(state)
    if state.shape != (norm.dim,):
        raise PolicyError(f"observation: state shape {list(state.shape)}: expected [{norm.dim}] (the embodiment layout)")
    return PolicyInputs(image, norm.normalize_state(state), np.ones(1, dtype=np.float32))
