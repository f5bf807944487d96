"""`dreamgen policy eval POLICY --sim`: closed-loop success per task in the MuJoCo GR1, beside baselines.

    report = evaluate(Path("report"), EvalConfig(tasks=TASKS, seeds=range(1000, 1010)), policy_dir=Path("policy"))

Every (controller, task, seed) is one episode (`rollout.py`): the policy through a runtime
(`load_runtime`, the same code the robot runs) and the same safety monitor as the robot, at the
embodiment's control rate, executing `execute` of each chunk's H actions before asking again.
Baselines on the same seeds, in the same table: the scripted expert (ground truth: the ceiling,
and proof the evaluator can tell success), the replay of the mean training trajectory per task
(`trajectories_from_datasets`; tasks without demos have none) and a random policy (the floor).
Seeds are the held-out mechanism (a seed fixes the scene): train on 0:N, evaluate on 1000:1000+M.

Episodes run in worker processes (`sim.episodes.episode_pool`: forkserver, MuJoCo's EGL context
must not be forked); each process loads the robot once and the runtime once. Output, built as an
AtomicDir:

    REPORT/report.json   configuration, success per controller and task, every episode, policy latency
    REPORT/success.png   success rate per task and controller
    REPORT/videos/*.mp4  the first `videos` episodes of each controller, filmed at the control rate
"""

from __future__ import annotations

import io
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import dreamgen_core.sim  # noqa: F401  (headless MuJoCo before mujoco is imported)
from dreamgen_core.atomic import AtomicDir, write_bytes_atomic, write_text_atomic
from dreamgen_core.config import ConfigError, read_yaml
from dreamgen_core.dataset.reader import DatasetReader
from dreamgen_core.policy.controllers import (
    Controller,
    ExpertController,
    PolicyController,
    RandomController,
    ReplayController,
    mean_trajectories,
)
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.latency import LatencyStats
from dreamgen_core.policy.rollout import EpisodeResult, RolloutConfig, rollout
from dreamgen_core.policy.runtime import PolicyRuntime, load_runtime
from dreamgen_core.policy.text import is_dream_task
from dreamgen_core.safety import Envelope, Rule, default_rules, ood_rule
from dreamgen_core.sim.episodes import SimWorker, episode_pool, sim_worker
from dreamgen_core.sim.task import Task, UnknownInstruction, task_for
from dreamgen_core.video import ModelViewTransform, VideoWriter

CONTROLLERS = ("policy", "expert", "mean_replay", "random")
REPORT_FILE = "report.json"
PLOT_FILE = "success.png"
VIDEOS_DIR = "videos"


@dataclass(frozen=True)
class EvalConfig:
    tasks: tuple[Task, ...]
    seeds: tuple[int, ...]
    controllers: tuple[str, ...] = ("policy", "expert", "mean_replay")
    runtime: str = "onnxruntime"
    execute: int = 8                          # actions of each chunk executed before the next query
    camera_hw: tuple[int, int] = (200, 320)   # head camera render size (sim datasets record at 320x200)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    workers: int = 2
    videos: int = 0                           # episodes filmed per controller (its first ones)
    embodiment: str = "gr1"


@dataclass
class EvalReport:
    config: EvalConfig
    episodes: list[EpisodeResult]
    latency: dict[str, Any]
    backend: str
    seconds: float

    def rates(self) -> dict[str, dict[str, tuple[int, int]]]:
        """(successes, episodes) by controller, then task."""
        table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for e in self.episodes:
            cell = table[e.controller][e.task]
            cell[0] += e.success
            cell[1] += 1
        return {c: {t: (s, n) for t, (s, n) in tasks.items()} for c, tasks in table.items()}

    def to_dict(self) -> dict[str, Any]:
        rates = self.rates()
        return {
            "config": {**asdict(self.config), "tasks": [t.name for t in self.config.tasks],
                       "seeds": list(self.config.seeds)},
            "chunking": f"each query's first {self.config.execute} actions executed, then a new query; "
                        "inference is synchronous (the sim waits for it)",
            "runtime": self.backend,
            "success": {c: {t: {"successes": s, "episodes": n, "rate": s / n} for t, (s, n) in tasks.items()}
                        for c, tasks in rates.items()},
            "overall": {c: sum(s for s, _ in tasks.values()) / sum(n for _, n in tasks.values())
                        for c, tasks in rates.items()},
            "policy_latency": self.latency,
            "seconds": self.seconds,
            "episodes": [asdict(e) for e in self.episodes],
        }


def evaluate(out: Path, config: EvalConfig, policy_dir: Path | None = None,
             trajectories: dict[str, np.ndarray] | None = None, trajectory_fps: float = 20.0,
             progress: bool = True) -> EvalReport:
    """Run every episode, write the report directory `out` (replaced whole); returns the report."""
    controllers = _check(config, policy_dir, trajectories or {})
    jobs = [(c, task, seed) for c in controllers for task in config.tasks for seed in config.seeds
            if c != "mean_replay" or task.name in (trajectories or {})]
    filmed = {job for c in controllers for job in [j for j in jobs if j[0] == c][: config.videos]}
    jobs_filmed = [(*job, job in filmed) for job in jobs]
    started = time.monotonic()
    episodes: list[EpisodeResult] = []
    latency = LatencyStats()
    backend = ""
    with AtomicDir(Path(out)) as build:
        (build / VIDEOS_DIR).mkdir()
        run = partial(_episode, config=config, policy_dir=policy_dir, trajectories=trajectories or {},
                      trajectory_fps=trajectory_fps, build=build)
        with episode_pool(config.embodiment, config.workers, len(jobs)) as pool:
            for result, samples, used in tqdm(pool(run, jobs_filmed), total=len(jobs), unit="episode", desc="policy eval",
                                              disable=not progress):
                episodes.append(result)
                latency.samples.extend(samples)
                backend = backend or used
        report = EvalReport(config, episodes, latency.summary() if latency.samples else {}, backend,
                            time.monotonic() - started)
        write_text_atomic(build / REPORT_FILE, json.dumps(report.to_dict(), indent=1) + "\n")
        plot_success(report, build / PLOT_FILE)
    return report


def _check(config: EvalConfig, policy_dir: Path | None, trajectories: dict[str, np.ndarray]) -> tuple[str, ...]:
    unknown = [c for c in config.controllers if c not in CONTROLLERS]
    if unknown:
        raise ConfigError("--baselines", "controllers", unknown, f"known: {', '.join(CONTROLLERS)}")
    if "policy" in config.controllers and policy_dir is None:
        raise PolicyError("evaluating the policy needs a POLICY directory")
    if config.execute < 1 or not config.seeds or not config.tasks:
        raise ConfigError("--execute/--seeds/--tasks", "eval", (config.execute, config.seeds), "need ≥ 1 each")
    controllers = tuple(dict.fromkeys(config.controllers))
    if "mean_replay" in controllers and not trajectories:
        controllers = tuple(c for c in controllers if c != "mean_replay")  # no demos given: nothing to replay
    return controllers


_RUNTIMES: dict[tuple[Path, str], PolicyRuntime] = {}  # this process's, loaded on its first policy episode


def _runtime(policy_dir: Path, name: str) -> PolicyRuntime:
    if (policy_dir, name) not in _RUNTIMES:
        options: dict[str, Any] = {"threads": 1} if name == "onnxruntime" else {}
        if name == "torch":
            import torch

            torch.set_num_threads(1)  # one core per worker process: they run side by side
        runtime = load_runtime(policy_dir, name, **options)
        runtime.warmup()
        _RUNTIMES[(policy_dir, name)] = runtime
    return _RUNTIMES[(policy_dir, name)]


def _controller(name: str, worker: SimWorker, config: EvalConfig, policy_dir: Path | None,
                trajectories: dict[str, np.ndarray],
                trajectory_fps: float) -> tuple[Controller, PolicyRuntime | None, list[Rule] | None]:
    """The controller, its runtime (the policy's) and the monitor's rules: the envelope, plus for the
    policy the warning on targets outside its training actions' [q01, q99] (as `safety_monitor` runs it)."""
    spec, rates = worker.spec, worker.spec.rates
    if name == "expert":
        return ExpertController(worker.expert), None, None
    if name == "mean_replay":
        return ReplayController(trajectories, trajectory_fps, rates.control_hz), None, None
    if name == "random":
        return RandomController(Envelope.from_spec(spec), config.execute), None, None
    assert policy_dir is not None
    runtime = _runtime(policy_dir, config.runtime)
    cameras, transforms = {}, {}
    for key in runtime.norm.video_keys:
        camera = next((c for c in spec.cameras.values() if key in (c.model_view.video_key, c.raw_video_key)), None)
        if camera is None:
            raise PolicyError(f"{policy_dir}: the policy reads video key {key!r}, which no camera of the simulated "
                              f"{spec.name} has")
        cameras[key] = worker.camera(*config.camera_hw)
        transforms[key] = ModelViewTransform.for_camera(camera)
    runtime.latency.clear()
    names = spec.joint_names
    rules = default_rules()
    rules.insert(1, ood_rule(dict(zip(names, runtime.norm.action_q01.tolist())),
                             dict(zip(names, runtime.norm.action_q99.tolist()))))
    return PolicyController(runtime, cameras, transforms, config.execute, runtime.manifest.rates.action_fps,
                            rates.control_hz), runtime, rules


def _episode(job: tuple[str, Task, int, bool], config: EvalConfig, policy_dir: Path | None,
             trajectories: dict[str, np.ndarray], trajectory_fps: float,
             build: Path) -> tuple[EpisodeResult, list[float], str]:
    name, task, seed, film = job
    worker = sim_worker(config.embodiment)
    controller, runtime, rules = _controller(name, worker, config, policy_dir, trajectories, trajectory_fps)
    video_name = f"{name}_{task.name}_seed{seed}.mp4"
    writer = VideoWriter(build / VIDEOS_DIR / video_name, worker.spec.rates.control_hz, config.camera_hw) if film else None
    camera = worker.camera(*config.camera_hw)

    def observe() -> None:
        if writer is not None:
            writer.write(camera.render())

    try:
        result = rollout(worker.robot, controller, task, seed, config.rollout, observe, rules)
    finally:
        if writer is not None:
            writer.close()
    if film:
        result = replace(result, video=f"{VIDEOS_DIR}/{video_name}")
    samples = list(runtime.latency.samples) if runtime else []
    return result, samples, runtime.backend if runtime else ""


def trajectories_from_datasets(datasets: Iterable[Path]) -> tuple[dict[str, np.ndarray], float]:
    """Per sim task, the mean action trajectory of its demos in these (real) datasets, and their fps.
    Dream datasets and tasks the sim does not know are skipped."""
    per_task: dict[str, list[np.ndarray]] = defaultdict(list)
    fps: float | None = None
    for root in datasets:
        reader = DatasetReader(root)
        if fps is not None and reader.fps != fps:
            raise PolicyError(f"{root}: {reader.fps:g} fps, other datasets {fps:g}: one rate for the replay")
        fps = reader.fps
        for episode in reader.episodes:
            if is_dream_task(episode.task):
                continue
            try:
                task = task_for(episode.task)
            except UnknownInstruction:
                continue
            per_task[task.name].append(reader.arrays(episode.index).action.astype(np.float64))
    return mean_trajectories(per_task), fps or 20.0


def format_table(report: EvalReport) -> str:
    """Tasks down, controllers across: `successes/episodes (rate)`."""
    rates = report.rates()
    controllers = [c for c in CONTROLLERS if c in rates]
    tasks = [t.name for t in report.config.tasks]
    width = max(len(t) for t in [*tasks, "task"])
    lines = ["  ".join(["task".ljust(width), *(c.rjust(14) for c in controllers)])]
    for task in tasks:
        cells = []
        for c in controllers:
            s, n = rates[c].get(task, (0, 0))
            cells.append((f"{s}/{n} ({s / n:.0%})" if n else "n/a").rjust(14))
        lines.append("  ".join([task.ljust(width), *cells]))
    totals = report.to_dict()["overall"]
    lines.append("  ".join(["all".ljust(width), *(f"{totals[c]:.0%}".rjust(14) for c in controllers)]))
    return "\n".join(lines)


def plot_success(report: EvalReport, path: Path) -> None:
    """Grouped bars: success rate per task, one bar per controller, counts on top."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rates = report.rates()
    controllers = [c for c in CONTROLLERS if c in rates]
    tasks = [t.name for t in report.config.tasks]
    figure = Figure(figsize=(max(6.0, 2.2 * len(tasks)), 4.2), dpi=100)
    axes = figure.subplots()
    width = 0.8 / max(1, len(controllers))
    for i, controller in enumerate(controllers):
        xs = np.arange(len(tasks)) + (i - (len(controllers) - 1) / 2) * width
        cells = [rates[controller].get(t, (0, 0)) for t in tasks]
        values = [s / n if n else 0.0 for s, n in cells]
        bars = axes.bar(xs, values, width, label=controller)
        for bar, (s, n) in zip(bars, cells):
            axes.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02, f"{s}/{n}" if n else "n/a",
                      ha="center", fontsize=8)
    axes.set_xticks(np.arange(len(tasks)), [t.replace("_", " ") for t in tasks], fontsize=8)
    axes.set_ylim(0, 1.15)
    axes.set_ylabel("success rate")
    axes.set_title(f"closed loop, seeds {_seed_text(report.config.seeds)}, runtime {report.backend or 'n/a'}",
                   fontsize=9)
    axes.legend(fontsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(path, buffer.getvalue())


def _seed_text(seeds: Sequence[int]) -> str:
    return f"{seeds[0]}:{seeds[-1] + 1}" if list(seeds) == list(range(seeds[0], seeds[-1] + 1)) else \
        ",".join(map(str, seeds))


def training_datasets(policy: Path) -> list[Path]:
    """The real datasets a policy was trained on, as its checkpoint records them, those still on disk."""
    for config in (policy / "checkpoint" / "policy_config.yaml", policy / "policy_config.yaml"):
        if config.is_file():
            training = (read_yaml(config) or {}).get("training") or {}
            return [Path(d["path"]) for d in training.get("datasets", [])
                    if d.get("kind") == "real" and Path(d["path"]).is_dir()]
    return []
