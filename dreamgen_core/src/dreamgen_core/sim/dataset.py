"""Demonstration datasets straight from the simulated GR1: the scripted expert, no ROS graph.

The same GR00T-LeRobot dataset `dreamgen convert` makes from recorded bags, through the same
`DatasetWriter`, in a fraction of the time: each (seed, task) job is one episode of `SimRobot`
driven by `ScriptedExpert` (`sim.episodes`). At every control period the loop takes what the
collect stack would record: the measured joint positions (the joint states), the target vector the
expert sends next (the teleop command, which the safety monitor forwards; while the scene settles
at the end the expert keeps sending its last one, as the teleop node does), and the head camera's
frame. The three are stamped with the episode's sim time (0 at the reset) and sampled onto the
dataset's frame clock with the converter's own rule (`timeline.select_latest`: the latest sample
at or before each frame time), so the rows, their timing extra columns (`timeline.timing_columns`)
and the videos (model view plus the raw camera at `camera_hw`) mean what they mean in a converted
dataset. On GR1 dataset fps = control rate, so every control period is one row, every age 0.

The action leads the state: it is the target the joints are about to move towards. An episode
counts as a demonstration only if the sim's success check passes; failures are left out and
listed. A job's idempotency key is (embodiment, task, seed): jobs already in the dataset are not
run again, and the dataset is committed every `commit_every` episodes, so an interrupted run keeps
what it committed and a re-run adds only what is missing. Seeds are the held-out mechanism: train
on 0:N, test on 1000:1000+M.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dreamgen_core.config import ConfigError
from dreamgen_core.dataset import DatasetReader, DatasetWriter, EpisodeData
from dreamgen_core.dataset.videos import encode_incoming, video_features
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.recording.provenance import software_version
from dreamgen_core.sim.episodes import episode_pool, run_seeded, sim_worker
from dreamgen_core.sim.task import Task, tasks_named
from dreamgen_core.timeline import NS, frame_times, select_latest, timing_columns
from dreamgen_core.video import EncoderConfig

log = logging.getLogger(__name__)

SETTLE_S = 0.5  # recorded after the expert's last waypoint: every demonstration ends with the scene at rest
COMMIT_EVERY = 50  # episodes per commit: what an interrupted run keeps (each commit rewrites meta, validates)
# Timing extras: the converter names its sources after the topics' roles (convert/episode.py).
STATE_SOURCE, COMMAND_SOURCE = "joint_states", "teleop_command"


@dataclass(frozen=True)
class SimEpisode:
    """One job and what became of it: `added` (as episode_index), `present` (from an earlier run), `failed`."""

    seed: int
    task: str
    status: str
    episode_index: int | None = None
    length: int = 0
    seconds: float = 0.0  # running and encoding it, in its worker


@dataclass
class SimDatasetReport:
    out: Path
    episodes: list[SimEpisode] = field(default_factory=list)
    seconds: float = 0.0

    def with_status(self, status: str) -> list[SimEpisode]:
        return [e for e in self.episodes if e.status == status]

    @property
    def added(self) -> list[SimEpisode]:
        return self.with_status("added")

    @property
    def present(self) -> list[SimEpisode]:
        return self.with_status("present")

    @property
    def failed(self) -> list[SimEpisode]:
        return self.with_status("failed")

    @property
    def seconds_per_episode(self) -> float:
        """Mean worker time of one episode run (added or failed): recording plus encoding."""
        runs = [e.seconds for e in self.episodes if e.status != "present"]
        return float(np.mean(runs)) if runs else 0.0


def source_key(embodiment: str, task: str, seed: int) -> str:
    """The idempotency key of one job's episode."""
    return f"sim:{embodiment}:{task}:seed{seed}"


def record_sim_dataset(out: Path, tasks: Sequence[str], seeds: Sequence[int], *, spec_name: str = "gr1",
                       camera_hw: tuple[int, int] = (200, 320), workers: int = 1, commit_every: int = COMMIT_EVERY,
                       encoder: EncoderConfig = EncoderConfig(), progress: bool = True) -> SimDatasetReport:
    """Record the expert's episodes of `tasks` x `seeds` into the dataset `out` (created or extended)."""
    out, started = Path(out), time.monotonic()
    chosen, seeds = tasks_named(tasks), _checked_seeds(seeds)
    if not chosen:
        raise ConfigError("--tasks", "tasks", list(tasks), "names no task")
    if commit_every < 1:
        raise ConfigError("commit_every", "commit_every", commit_every, "must be at least 1")
    spec = load_embodiment(spec_name)
    video_features(spec, camera_hw)  # a bad camera size fails here, before any episode runs
    report = SimDatasetReport(out)
    present = _present_keys(out)
    jobs = []
    for seed in seeds:
        for task in chosen:
            if source_key(spec_name, task.name, seed) in present:
                report.episodes.append(SimEpisode(seed, task.name, "present"))
            else:
                jobs.append((seed, task))
    record = partial(_record, spec_name=spec_name, camera_hw=camera_hw, encoder=encoder)
    with episode_pool(spec_name, workers, len(jobs)) as pool_map, \
            tqdm(total=len(jobs), unit="episode", desc="sim dataset", disable=not progress) as bar:
        for batch in _batches(jobs, commit_every):
            with DatasetWriter(out, spec, encoder, raw_size=camera_hw) as writer:
                for (seed, task), outcome in zip(batch, pool_map(partial(record, incoming=writer.incoming()), batch)):
                    report.episodes.append(_add(writer, seed, task, outcome))
                    bar.update()
            log.info("%s: committed %d episodes", out, sum(1 for e in report.added))
    report.seconds = time.monotonic() - started
    return report


def _checked_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    unique = tuple(dict.fromkeys(int(s) for s in seeds))
    if not unique or min(unique) < 0:
        raise ConfigError("--seeds", "seeds", list(seeds), "must name at least one seed, none negative")
    return unique


def _present_keys(out: Path) -> set[str]:
    """Idempotency keys of the episodes already in `out` (none if it does not exist yet)."""
    if not out.exists():
        return set()
    return {str(e.provenance.get("source_key")) for e in DatasetReader(out).episodes}


def _batches(jobs: list[tuple[int, Task]], size: int) -> Iterator[list[tuple[int, Task]]]:
    for start in range(0, len(jobs), size):
        yield jobs[start:start + size]


@dataclass(frozen=True)
class _Outcome:
    """What a worker sends back: the episode (None if the expert failed) and the seconds it took."""

    episode: EpisodeData | None
    seconds: float


def _add(writer: DatasetWriter, seed: int, task: Task, outcome: _Outcome) -> SimEpisode:
    if outcome.episode is None:
        log.warning("seed %d %s: the expert failed; left out", seed, task.name)
        return SimEpisode(seed, task.name, "failed", seconds=outcome.seconds)
    added = writer.add(outcome.episode)
    if added.skipped:  # a concurrent run added it meanwhile
        return SimEpisode(seed, task.name, "present", seconds=outcome.seconds)
    return SimEpisode(seed, task.name, "added", added.episode_index, outcome.episode.length, outcome.seconds)


@dataclass
class _Samples:
    """Per control period: sim time, measured positions, the frame; the expert's commands as sent."""

    times: list[float] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    commands: list[np.ndarray] = field(default_factory=list)

    def command_per_period(self) -> np.ndarray:
        """The target vector in force after each period's observation: the one sent then, or, once the
        expert is done, its last one (still being sent)."""
        held = [self.commands[-1]] * (len(self.times) - len(self.commands))
        return np.stack(self.commands + held)


def _record(job: tuple[int, Task], spec_name: str, camera_hw: tuple[int, int], encoder: EncoderConfig,
            incoming: Path) -> _Outcome:
    """Run one job's episode (in a worker); a successful one comes back with its videos encoded into `incoming`."""
    started = time.perf_counter()
    episode = _episode(*job, spec_name, camera_hw, encoder, incoming)
    return _Outcome(episode, time.perf_counter() - started)


def _episode(seed: int, task: Task, spec_name: str, camera_hw: tuple[int, int], encoder: EncoderConfig,
             incoming: Path) -> EpisodeData | None:
    worker = sim_worker(spec_name)
    robot, camera, spec = worker.robot, worker.camera(*camera_hw), worker.spec
    samples = _Samples()

    def observe() -> None:
        samples.times.append(robot.time)
        samples.positions.append(robot.positions())
        samples.frames.append(camera.render())

    success = run_seeded(worker, seed, task, SETTLE_S, observe=observe, command=samples.commands.append)
    if not success:
        return None
    # Stamps relative to the reset: the worker's sim clock runs on across episodes, and a dataset must
    # not depend on which worker ran what before.
    stamps = np.round((np.asarray(samples.times) - samples.times[0]) * NS).astype(np.int64)
    times = frame_times(0, int(stamps[-1]), spec.rates.dataset_fps)
    period_ns = int(np.max(np.diff(stamps))) if len(stamps) > 1 else 0
    picked = select_latest(stamps, times, period_ns)
    if picked.first_gap() is not None:  # cannot happen: a sample every period from time 0 on
        raise RuntimeError(f"seed {seed} {task.name}: no sample for frame {picked.first_gap()}")
    camera_key = next(iter(spec.cameras))
    frames = [samples.frames[i] for i in picked.index]  # a repeated frame is the same object: encoded once
    key = source_key(spec_name, task.name, seed)
    videos = encode_incoming(spec, video_features(spec, camera_hw), {camera_key: frames}, len(times), incoming,
                             key.replace(":", "_"), encoder)
    return EpisodeData(
        state=np.stack(samples.positions)[picked.index], action=samples.command_per_period()[picked.index],
        frames={}, videos=videos, task=task.instruction, source_key=key, success=True,
        provenance={"origin": "real", "source": "sim", "task": task.name, "seed": seed,
                    "expert": "scripted", "camera_hw": list(camera_hw), "recorded_with": software_version()},
        extra_columns=timing_columns(times, {STATE_SOURCE: (stamps, picked), COMMAND_SOURCE: (stamps, picked),
                                             camera_key: (stamps, picked)}))
