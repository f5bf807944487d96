"""Training samples from GR00T-LeRobot datasets: real demos and IDM-labelled dreams, read once.

    data = load_training_data([Path("demos"), Path("dreams_labelled")], image_size=64, horizon=16)
    inputs, actions, instruction = data.sample(data.item("dream", 123))   # via prepare; actions [H, D] in [-1, 1]

A sample is the observation at frame t of an episode — its model-view image(s) and state — and
the actions a_t … a_{t+H−1}, the last action repeated past the episode's end (the robot holds).
Each episode's video is decoded once and kept at the policy's image size (`preprocess.shrink`,
the resampling `prepare` itself does, so passing the kept frame through `prepare` again changes
nothing). Memory: every frame stays in RAM at S×S×3 bytes per camera (64×64: 12 KiB, so 100 000
frames take 1.2 GB); decoding runs once, in this process, before the first step. Dream episodes
have no measured state (their stored state is zeros): they are prepared with state None, i.e. masked.

Normalization comes from the REAL datasets only: their state and action ranges are what the
robot does. A dream's IDM-labelled actions outside that range are clipped to it and counted.
All datasets must be of one embodiment (the same content hash).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dreamgen_core.dataset.reader import DatasetReader
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.preprocess import PolicyInputs, PolicyNorm, norm_from_arrays, prepare, shrink
from dreamgen_core.policy.sampler import dataset_kind
from dreamgen_core.policy.text import instruction_of
from dreamgen_core.training.hashing import fingerprint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceDataset:
    """One training dataset, as the checkpoint records it."""

    path: str
    kind: str
    fingerprint: str
    episodes: int
    samples: int
    clipped_actions: int = 0  # dream action values outside the real range, clipped to it

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "kind": self.kind, "fingerprint": self.fingerprint, "episodes": self.episodes,
                "samples": self.samples, "clipped_actions": self.clipped_actions}


@dataclass
class Episode:
    kind: str
    instruction: str             # "<DREAM> " removed
    frames: dict[str, np.ndarray]  # video key → uint8 [T, S, S, 3]
    state: np.ndarray | None     # float32 [T, D]; None for dreams
    action: np.ndarray           # float32 [T, D], joint units (dreams clipped to the real range)

    @property
    def length(self) -> int:
        return len(self.action)


@dataclass
class TrainingData:
    norm: PolicyNorm
    embodiment: str
    embodiment_hash: str
    layout: tuple[str, ...]
    sources: list[SourceDataset]
    episodes: list[Episode]
    horizon: int
    items: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))  # int [N, 2]: (episode, t)
    pools: dict[str, np.ndarray] = field(default_factory=dict)  # kind → the item numbers of that kind

    def sizes(self) -> dict[str, int]:
        return {kind: len(pool) for kind, pool in self.pools.items()}

    def item(self, kind: str, index: int) -> int:
        """The item number of the `index`-th sample of `kind` (what the co-training sampler draws)."""
        return int(self.pools[kind][index])

    def sample(self, item: int) -> tuple[PolicyInputs, np.ndarray, str]:
        """Item `item`: the prepared observation, normalized actions [H, D], the instruction."""
        e, t = (int(v) for v in self.items[item])
        episode = self.episodes[e]
        images = {key: frames[t] for key, frames in episode.frames.items()}
        inputs = prepare(images, None if episode.state is None else episode.state[t], self.norm)
        rows = np.minimum(np.arange(t, t + self.horizon), episode.length - 1)
        return inputs, self.norm.normalize_action(episode.action[rows]), episode.instruction


@dataclass
class OpenedDatasets:
    """The datasets' metadata, checked to train one policy together; nothing decoded yet (`open_datasets`)."""

    readers: list[DatasetReader]
    kinds: list[str]
    embodiment: str
    embodiment_hash: str
    layout: tuple[str, ...]
    video_keys: tuple[str, ...]
    fingerprints: list[str]

    def sizes(self) -> dict[str, int]:
        """Samples (frames) per kind of data."""
        sizes = dict.fromkeys(("real", "dream"), 0)
        for reader, kind in zip(self.readers, self.kinds):
            sizes[kind] += sum(e.length for e in reader.episodes)
        return sizes


def open_datasets(paths: Sequence[Path]) -> OpenedDatasets:
    """Read the datasets' metadata and check them: one embodiment (content hash), a real dataset among them
    (the normalization's source), the embodiment's width and model-view videos. PolicyError naming the dataset."""
    if not paths:
        raise PolicyError("no DATASET given")
    readers = [DatasetReader(Path(p)) for p in paths]
    kinds = [dataset_kind(r.root, [(e.task, e.provenance) for e in r.episodes]) for r in readers]
    hashes = {(r.embodiment, r.embodiment_hash) for r in readers}
    if len(hashes) != 1:
        listing = "; ".join(f"{r.root}: {r.embodiment} {str(r.embodiment_hash)[:12]}" for r in readers)
        raise PolicyError(f"the datasets are of different embodiments (name, content hash): {listing}; "
                          "a policy trains on one embodiment")
    (name, content_hash), = hashes
    if not content_hash:
        raise PolicyError(f"{readers[0].root}: meta/provenance.json records no embodiment content hash; "
                          "re-convert it with this dreamgen (the policy checkpoint must name the embodiment exactly)")
    if "real" not in kinds:
        raise PolicyError(f"no real dataset among {[str(r.root) for r in readers]}: the state and action "
                          "normalization comes from recorded demos; add one")
    spec = load_embodiment(name)
    video_keys = tuple(camera.model_view.video_key for camera in spec.cameras.values())
    for reader in readers:
        if reader.dim != spec.dim:
            raise PolicyError(f"{reader.root}: state/action width {reader.dim}, embodiment {name} has {spec.dim}")
        missing = [key for key in video_keys if key not in reader.video_keys]
        if missing:
            raise PolicyError(f"{reader.root}: no video {missing}: the policy sees the model views {list(video_keys)}")
    return OpenedDatasets(readers, kinds, name, content_hash, spec.joint_names, video_keys,
                          [fingerprint(r.root) for r in readers])


def load_training_data(datasets: Sequence[Path] | OpenedDatasets, image_size: int, horizon: int) -> TrainingData:
    """Read every episode and decode its videos (see the module doc); paths are opened by `open_datasets` first."""
    opened = datasets if isinstance(datasets, OpenedDatasets) else open_datasets(datasets)
    readers, kinds, dim = opened.readers, opened.kinds, len(opened.layout)
    arrays = [[r.arrays(e.index) for e in r.episodes] for r in readers]
    real = [a for kind, episodes in zip(kinds, arrays) if kind == "real" for a in episodes]
    norm = norm_from_arrays(np.concatenate([a.state for a in real]), np.concatenate([a.action for a in real]),
                            image_size, opened.video_keys)
    data = TrainingData(norm, opened.embodiment, opened.embodiment_hash, opened.layout, [], [], horizon)
    total = sum(len(r.episodes) for r in readers)
    with tqdm(total=total, desc="decode episodes", unit="episode") as bar:
        for reader, kind, episodes, print_ in zip(readers, kinds, arrays, opened.fingerprints):
            clipped = 0
            for info, arrays_ in zip(reader.episodes, episodes):
                action = arrays_.action
                if kind == "dream":
                    outside = (action < norm.action_min) | (action > norm.action_max)
                    clipped += int(outside.sum())
                    action = np.clip(action, norm.action_min, norm.action_max)
                frames = {key: np.stack([shrink(f, norm) for f in reader.frames(info.index, key)])
                          for key in opened.video_keys}
                data.episodes.append(Episode(kind, instruction_of(info.task), frames,
                                             None if kind == "dream" else arrays_.state, action))
                bar.update(1)
            samples = sum(len(a.action) for a in episodes)
            if clipped:
                log.warning("%s: %d of %d dream action values lay outside the real datasets' range and were clipped",
                            reader.root, clipped, samples * dim)
            data.sources.append(SourceDataset(str(reader.root.resolve()), kind, print_, len(reader.episodes), samples,
                                              clipped))
    data.items = np.asarray([(i, t) for i, e in enumerate(data.episodes) for t in range(e.length)],
                            dtype=np.int64).reshape(-1, 2)
    kinds_of_items = np.asarray([data.episodes[e].kind for e in data.items[:, 0]])
    data.pools = {kind: np.flatnonzero(kinds_of_items == kind) for kind in ("real", "dream")}
    return data
