"""Open-loop scoring of a trained policy on recorded episodes: its action chunks against the recorded ones.

    score = chunk_errors(load_policy(ckpt), DatasetReader(heldout), baseline=train_action_mean)
    score.policy_mse, score.mean_action_mse, score.hold_state_mse

For each frame t (every `stride`-th) the policy sees what it would see on the robot — the frame,
the measured state, the instruction, through `prepare` — and predicts a_t … a_{t+H−1}; the error is
the mean squared difference in joint units over the whole chunk and every joint, the recorded
chunk padded with its last action as in training. Two trivial baselines in the same units: the
training data's mean action everywhere, and holding the current measured state (no motion).
This is not closed-loop success (`dreamgen policy eval`), but it is quick, deterministic and shows
whether the network learnt anything beyond the obvious.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dreamgen_core.dataset.reader import DatasetReader
from dreamgen_core.policy.checkpoint import PolicyCheckpoint
from dreamgen_core.policy.preprocess import prepare
from dreamgen_core.policy.text import load_text_encoder

BATCH = 64


@dataclass(frozen=True)
class ChunkErrors:
    policy_mse: float
    mean_action_mse: float
    hold_state_mse: float
    chunks: int


def recorded_chunks(action: np.ndarray, frames: np.ndarray, horizon: int) -> np.ndarray:
    """[len(frames), H, D]: a_t … a_{t+H−1} for each t in `frames`, the last action repeated past the end."""
    rows = np.minimum(frames[:, None] + np.arange(horizon)[None, :], len(action) - 1)
    return action[rows]


def predict(ckpt: PolicyCheckpoint, images: dict[str, np.ndarray], states: np.ndarray, instruction: str,
            seed: int = 0) -> np.ndarray:
    """Chunks [N, H, D] in joint units for N observations (images per key uint8 [N, h, w, 3], states [N, D])."""
    text = load_text_encoder(ckpt.text_encoder).embed(instruction)
    generator = torch.Generator().manual_seed(seed)
    out = []
    for begin in range(0, len(states), BATCH):
        prepared = [prepare({k: v[i] for k, v in images.items()}, states[i], ckpt.norm)
                    for i in range(begin, min(begin + BATCH, len(states)))]
        batch = len(prepared)
        noise = torch.randn((batch, ckpt.horizon, ckpt.norm.dim), generator=generator)
        with torch.no_grad():
            chunk = ckpt.model(torch.from_numpy(np.stack([p.image for p in prepared])),
                               torch.from_numpy(np.stack([p.state for p in prepared])),
                               torch.from_numpy(np.stack([p.state_mask for p in prepared])),
                               torch.from_numpy(np.repeat(text[None], batch, axis=0)), noise)
        out.append(ckpt.norm.denormalize_action(chunk.numpy()))
    return np.concatenate(out)


def chunk_errors(ckpt: PolicyCheckpoint, reader: DatasetReader, baseline: np.ndarray, stride: int = 1,
                 seed: int = 0) -> ChunkErrors:
    """Mean squared chunk errors over every episode of `reader` (see the module doc); `baseline`: mean action [D]."""
    sums, count = np.zeros(3), 0
    for info in reader.episodes:
        arrays = reader.arrays(info.index)
        frames = np.arange(0, info.length, stride)
        truth = recorded_chunks(arrays.action, frames, ckpt.horizon)
        images = {key: reader.frames(info.index, key)[frames] for key in ckpt.video_keys}
        guess = predict(ckpt, images, arrays.state[frames], info.task, seed)
        hold = np.repeat(arrays.state[frames][:, None], ckpt.horizon, axis=1)
        for i, estimate in enumerate((guess, baseline[None, None], hold)):
            sums[i] += float(((estimate - truth) ** 2).mean(axis=(1, 2)).sum())
        count += len(frames)
    policy, mean_action, hold_state = sums / max(count, 1)
    return ChunkErrors(float(policy), float(mean_action), float(hold_state), count)
