"""Co-training: which samples make up each batch, mixing real and dream data at a set ratio.

    weights = parse_mix("real=1,dream=1")                          # {"real": 1.0, "dream": 1.0}
    sampler = CoTrainingSampler({"real": 5200, "dream": 800}, weights, seed=0)
    sampler.draw(step=17, batch_size=32)                            # [(kind, index in that kind's pool), ...]

The mix is a weight per kind of data, applied as sample weights: every sample of kind k weighs
w_k / N_k, so kind k makes up w_k / Σw of the batches however many samples it has (the paper
co-trains 1:1 by default, though the dreams often outnumber the demos). Drawing a kind with
probability w_k / Σw and then a sample of it uniformly is the same distribution, without a weight per
sample. Batches are a function of (seed, step) only, so a resumed run draws what an uninterrupted
one would.

A kind is "dream" for a dataset of IDM-labelled dreams (provenance origin "dreamed", tasks
"<DREAM> …"), "real" for recorded demos; `dataset_kind` decides it per dataset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.text import is_dream_task
from dreamgen_core.training.seeds import derive_seed

KINDS = ("real", "dream")


def parse_mix(text: str) -> dict[str, float]:
    """"real=1,dream=1" → {"real": 1.0, "dream": 1.0}; PolicyError naming --mix and the part at fault."""
    weights: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        kind, sep, value = part.partition("=")
        kind = kind.strip()
        if not sep or kind not in KINDS:
            raise PolicyError(f"--mix {text!r}: {part!r}: expected KIND=WEIGHT with KIND one of {', '.join(KINDS)}")
        if kind in weights:
            raise PolicyError(f"--mix {text!r}: {kind} given twice")
        try:
            weight = float(value)
        except ValueError:
            raise PolicyError(f"--mix {text!r}: {part!r}: the weight must be a number") from None
        if not np.isfinite(weight) or weight < 0:
            raise PolicyError(f"--mix {text!r}: {part!r}: the weight must be a finite number ≥ 0")
        weights[kind] = weight
    if not weights or sum(weights.values()) <= 0:
        raise PolicyError(f"--mix {text!r}: needs at least one positive weight, e.g. real=1,dream=1")
    return weights


def episode_is_dream(task: str, provenance: Mapping[str, object]) -> bool:
    return provenance.get("origin") == "dreamed" or is_dream_task(task)


def dataset_kind(root: object, episodes: Sequence[tuple[str, Mapping[str, object]]]) -> str:
    """"dream" or "real" for a dataset's (task, provenance) pairs; a dataset holding both is refused."""
    dreams = sum(episode_is_dream(task, provenance) for task, provenance in episodes)
    if dreams and dreams != len(episodes):
        raise PolicyError(f"{root}: holds {dreams} dreamed and {len(episodes) - dreams} real episodes; the mix weighs "
                          "whole datasets, so keep dreams and demos in separate datasets")
    return "dream" if dreams else "real"


def check_mix(weights: Mapping[str, float] | None, sizes: Mapping[str, int]) -> dict[str, float]:
    """The weights to train with: `weights` (from --mix) must name exactly the kinds there is data of;
    None means 1 for each kind present (the paper's 1:1)."""
    present = {kind for kind, size in sizes.items() if size > 0}
    if weights is None:
        return {kind: 1.0 for kind in KINDS if kind in present}
    missing_data = sorted(set(weights) - present)
    if missing_data:
        raise PolicyError(f"--mix names {', '.join(missing_data)} but no {' or '.join(missing_data)} dataset was given "
                          f"(given: {', '.join(f'{k} ({sizes.get(k, 0)} samples)' for k in sorted(present)) or 'none'})")
    unweighted = sorted(present - set(weights))
    if unweighted:
        raise PolicyError(f"--mix {','.join(f'{k}={v:g}' for k, v in weights.items())} gives no weight to "
                          f"the {', '.join(unweighted)} datasets given; add e.g. {unweighted[0]}=1 "
                          f"(or {unweighted[0]}=0 to leave them out)")
    if sum(weights.values()) <= 0:
        raise PolicyError("--mix: every weight is 0")
    return dict(weights)


class CoTrainingSampler:
    """Draws (kind, index) pairs: kind by its weight, index uniform in that kind's `sizes[kind]` samples."""

    def __init__(self, sizes: Mapping[str, int], weights: Mapping[str, float], seed: int) -> None:
        self.kinds = [k for k in KINDS if weights.get(k, 0) > 0]
        if not self.kinds:
            raise PolicyError("co-training sampler: no kind has a positive weight")
        for kind in self.kinds:
            if sizes.get(kind, 0) < 1:
                raise PolicyError(f"co-training sampler: kind {kind} has weight {weights[kind]:g} but no samples")
        total = sum(weights[k] for k in self.kinds)
        self.probabilities = np.array([weights[k] / total for k in self.kinds])
        self.sizes = [int(sizes[k]) for k in self.kinds]
        self.seed = seed

    def fraction(self, kind: str) -> float:
        """The expected share of `kind` in the batches."""
        return float(self.probabilities[self.kinds.index(kind)]) if kind in self.kinds else 0.0

    def draw(self, step: int, batch_size: int) -> list[tuple[str, int]]:
        rng = np.random.default_rng(derive_seed(self.seed, "batch", step))
        picks = rng.choice(len(self.kinds), size=batch_size, p=self.probabilities)
        return [(self.kinds[k], int(rng.integers(self.sizes[k]))) for k in picks]
