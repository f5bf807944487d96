"""Convert many episode bags into one dataset: parallel readers, one writer, a progress bar.

Reading, aligning and transforming frames (the expensive part) runs in worker processes, one
episode each; the single `DatasetWriter` in this process encodes and appends in input order, so
the dataset is the same whatever the worker count. A bad bag is reported and the others still
convert; a bag already in the dataset is skipped (its content hash is the episode's key).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from dreamgen_core.bag import PARTIAL_SUFFIX
from dreamgen_core.convert.episode import ConvertConfig, ConvertError, Skipped, convert_bag
from dreamgen_core.dataset import DatasetWriter, EpisodeData
from dreamgen_core.embodiment import Embodiment

Status = Literal["converted", "duplicate", "skipped", "rejected"]


@dataclass(frozen=True)
class BagResult:
    bag: Path
    status: Status
    message: str
    episode_index: int | None = None
    frames: int = 0


def expand(paths: Sequence[Path]) -> tuple[list[Path], list[BagResult]]:
    """Bag directories named directly or found one level below; unusable paths become results."""
    bags, problems = [], []
    for path in paths:
        if not path.is_dir():
            problems.append(BagResult(path, "rejected", f"{path}: not a bag directory or a directory of bags"))
            continue
        is_bag = (path / "metadata.yaml").is_file() or path.name.endswith(PARTIAL_SUFFIX)
        for bag in [path] if is_bag else sorted(p for p in path.iterdir() if p.is_dir()):
            if bag.name.endswith(PARTIAL_SUFFIX):
                problems.append(BagResult(bag, "rejected", f"{bag.name}: unfinished episode; "
                                                            f"run `dreamgen bag recover {bag}` first"))
            elif (bag / "metadata.yaml").is_file():
                bags.append(bag)
    return bags, problems


def _convert_one(bag: Path, spec: Embodiment, cfg: ConvertConfig) -> EpisodeData | Exception:
    try:
        return convert_bag(bag, spec, cfg)
    except (ConvertError, Skipped) as exc:
        return exc


def _episodes(bags: list[Path], spec: Embodiment, cfg: ConvertConfig,
              workers: int) -> Iterator[tuple[Path, EpisodeData | Exception]]:
    """(bag, episode or its error) in input order; at most 2 episodes per worker held in memory."""
    if workers <= 1:
        for bag in bags:
            yield bag, _convert_one(bag, spec, cfg)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Path, Future]] = deque()
        todo = iter(bags)
        for bag in todo:
            pending.append((bag, pool.submit(_convert_one, bag, spec, cfg)))
            if len(pending) >= 2 * workers:
                done_bag, future = pending.popleft()
                yield done_bag, future.result()
        while pending:
            done_bag, future = pending.popleft()
            yield done_bag, future.result()


def convert_bags(paths: Sequence[Path], out: Path, spec: Embodiment, cfg: ConvertConfig,
                 workers: int = 1, progress: bool = True) -> list[BagResult]:
    bags, results = expand(paths)
    if not bags:
        return results
    with DatasetWriter(out, spec) as writer:
        for bag, episode in tqdm(_episodes(bags, spec, cfg, workers), total=len(bags), unit="episode",
                                 desc="convert", disable=not progress):
            if isinstance(episode, Skipped):
                results.append(BagResult(bag, "skipped", f"{bag.name}: {episode}"))
            elif isinstance(episode, Exception):
                results.append(BagResult(bag, "rejected", str(episode)))
            else:
                added = writer.add(episode)
                results.append(BagResult(bag, "duplicate", f"{bag.name}: {added.skipped}") if added.skipped else
                               BagResult(bag, "converted", f"{bag.name}: episode {added.episode_index}, "
                                         f"{episode.length} frames", added.episode_index, episode.length))
    return results
