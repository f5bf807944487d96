"""Many scripted-expert episodes of the simulated GR1 without ROS: which ones, and the processes that run them.

A job is one (seed, task) pair; `parse_seeds` and `sim.task.parse_tasks` turn command-line text
into them. `episode_pool` maps a job function over jobs, in input order, in this process or in
worker processes started with forkserver (MuJoCo's EGL context must not be forked). Each process
holds one `SimWorker` per embodiment (robot, expert, head cameras by size): building the MuJoCo
model takes a second, so it is built once per process, not per episode. `run_seeded` runs one
job's episode on it. World-model clips (`worldmodel.sim_clips`) and demo datasets (`sim.dataset`)
both run their episodes through here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import TypeVar

import numpy as np

import dreamgen_core.sim  # noqa: F401  (headless MuJoCo: MUJOCO_GL=egl before mujoco is imported)
from dreamgen_core.config import ConfigError
from dreamgen_core.embodiment import Embodiment, load_embodiment
from dreamgen_core.sim.expert import ScriptedExpert, run_episode
from dreamgen_core.sim.robot import HeadCamera, SimRobot
from dreamgen_core.sim.task import Task

J = TypeVar("J")
R = TypeVar("R")
Map = Callable[[Callable[[J], R], Iterable[J]], Iterator[R]]


def parse_seeds(text: str) -> tuple[int, ...]:
    """`A:B` (A inclusive, B exclusive, like a Python slice) or one seed `N`."""
    try:
        first, _, last = text.partition(":")
        seeds = tuple(range(int(first), int(last))) if last else (int(first),)
    except ValueError:
        raise ConfigError("--seeds", "seeds", text, "expected START:STOP (e.g. 0:200) or one seed") from None
    if not seeds or seeds[0] < 0:
        raise ConfigError("--seeds", "seeds", text, "must name at least one seed, none negative")
    return seeds


@dataclass
class SimWorker:
    """One robot, expert and camera per size, for every episode this process runs."""

    embodiment: str
    spec: Embodiment
    robot: SimRobot
    expert: ScriptedExpert
    cameras: dict[tuple[int, int], HeadCamera] = field(default_factory=dict)

    def camera(self, height: int, width: int) -> HeadCamera:
        if (height, width) not in self.cameras:
            self.cameras[(height, width)] = self.robot.renderer(width, height)
        return self.cameras[(height, width)]


_WORKERS: dict[str, SimWorker] = {}  # this process's, by embodiment


def sim_worker(embodiment: str) -> SimWorker:
    """This process's worker for `embodiment`, built on first use."""
    if embodiment not in _WORKERS:
        spec = load_embodiment(embodiment)
        _WORKERS[embodiment] = SimWorker(embodiment, spec, SimRobot(spec), ScriptedExpert(spec))
    return _WORKERS[embodiment]


def run_seeded(worker: SimWorker, seed: int, task: Task, settle_s: float,
               observe: Callable[[], None] = lambda: None,
               command: Callable[[np.ndarray], None] = lambda _: None) -> bool:
    """The expert's episode of `task` in the layout of `seed`, from a reset; returns the sim's success check.
    `observe` and `command` are `run_episode`'s hooks."""
    worker.robot.reset(seed, task)
    return run_episode(worker.robot, worker.expert, worker.spec.rates.control_hz, settle_s=settle_s,
                       observe=observe, command=command)


@contextmanager
def episode_pool(embodiment: str, workers: int, jobs: int) -> Iterator[Map]:
    """A `map(function, jobs)` with results in input order: in this process when `workers` or `jobs`
    is 1, else in up to `workers` forkserver processes. `function` must be picklable (module-level)
    and reach its robot through `sim_worker(embodiment)`."""
    if workers < 1:
        raise ConfigError("--workers", "workers", workers, "must be at least 1")
    if workers == 1 or jobs <= 1:
        sim_worker(embodiment)
        yield map
        return
    with ProcessPoolExecutor(min(workers, jobs), mp_context=get_context("forkserver"),
                             initializer=sim_worker, initargs=(embodiment,)) as pool:
        yield pool.map
