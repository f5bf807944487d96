"""`wm dream`: one video per prompt row from a trained run, serially or fanned out with Ray.

    DREAMS/<idx>_<Instruction_underscored>.mp4   h264 at the recipe's fps (dreamgen_core.video's writer)
    DREAMS/<idx>_<Instruction_underscored>.json  its DreamMeta sidecar (the exact instruction, seeds, hashes)
    DREAMS/failures.json                          items that failed every attempt, with their errors

The work of an item is one function, `Dreamer.render` (first-frame bytes in, mp4 bytes and sidecar
out), run in this process (`workers` 1, no Ray) or in Ray actors: one per GPU (num_gpus=1) when the
cluster has GPUs, else `workers` CPU actors. Each actor loads the run once. Only this process
reads prompt images and writes DREAMS, so on a cluster only the run directory (and a real base
model) must be present on every node. An item's mp4 is written under a temporary name and renamed,
its sidecar last: a re-run counts an item as finished only when the sidecar matches the item and
the mp4's sha256 matches the sidecar, so a partial or damaged file is dreamed again. One job at a
time writes DREAMS (the lock AtomicDir uses, `.DREAMS.lock` beside it). A failed item
is retried up to `retries` times, then reported in failures.json (and by a non-zero exit).

Best-of-N: with `best_of` N and a judge (`worldmodel.bench.JUDGES`), an item generates seeds seed,
seed + 1, ..., seed + N - 1 and keeps the video the judge ranks highest (instruction following, then
physics alignment; the lowest seed among equals); the sidecar records every candidate's scores.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from tqdm import tqdm

import dreamgen_core
from dreamgen_core import ray_local
from dreamgen_core.atomic import exclusive, write_bytes_atomic
from dreamgen_core.dataset.clips import framing
from dreamgen_core.dataset.layout import write_json
from dreamgen_core.video import VideoWriter
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.naming import INDEX_DIGITS, dream_stem
from dreamgen_core.worldmodel.prompts import Prompt, read_prompts
from dreamgen_core.worldmodel.recipe import Recipe, load_recipe
from dreamgen_core.worldmodel.run import RECIPE_COPY, RunMeta, file_sha256, load_run
from dreamgen_core.worldmodel.sidecar import DreamMeta, DreamRequest

if TYPE_CHECKING:  # judges load only when --judge names one
    from dreamgen_core.worldmodel.bench.judge import DreamJudge, JudgeOptions

FAILURES = "failures.json"
ACTOR_RESTARTS = 1  # an actor that dies (out of memory, a crashed node) is restarted once; its item is retried


class Outcome(Enum):
    DREAMED = "dreamed"
    SKIPPED = "skipped"   # finished by an earlier run
    FAILED = "failed"


@dataclass(frozen=True)
class DreamOptions:
    workers: int = 1                  # > 1 (or a ray_address): Ray actors; on GPUs one actor per GPU instead
    ray_address: str | None = None    # None: a private local Ray instance when workers > 1
    retries: int = 2
    device: str | None = None         # None: cuda when this process sees a GPU, else cpu (serial path)
    base: Path | None = None          # where a real base model lives now, if it moved since training
    best_of: int = 1
    judge: str | None = None          # a name in worldmodel.bench.JUDGES; required when best_of > 1
    judge_options: JudgeOptions | None = None  # a model judge's model/endpoint; the device is the dreamer's
    progress: bool = True


@dataclass(frozen=True)
class Failure:
    index: int
    stem: str
    instruction: str
    initial_frame: str
    attempts: int
    error: str


@dataclass
class DreamReport:
    out: Path
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # stem → what this run did
    failures: list[Failure] = field(default_factory=list)
    actors: int = 0                                              # 0: the serial path

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes.values() if o is outcome)


@dataclass(frozen=True)
class Rendered:
    mp4: bytes
    meta: DreamMeta


class Dreamer:
    """Loads a run once and renders dream requests; the same object serially and as a Ray actor."""

    def __init__(self, run: Path, device: str, base: Path | None = None, judge: str | None = None,
                 judge_options: JudgeOptions | None = None) -> None:
        self.run, self.device = Path(run), device
        self.loaded = load_run(self.run, device, base)
        self.judge: DreamJudge | None = None
        if judge is not None:
            from dreamgen_core.worldmodel.bench import JUDGES
            from dreamgen_core.worldmodel.bench.judge import JudgeOptions

            self.judge = JUDGES.load(judge, "--judge")(replace(judge_options or JudgeOptions(), device=device))

    def render(self, request: DreamRequest, image_bytes: bytes) -> Rendered:
        """One dream: decode the first frame, generate, encode; nothing is written to DREAMS here."""
        from dreamgen_core.worldmodel.bench.judge import Criterion, Video

        video = self.loaded.recipe.video
        image = _decode_image(image_bytes, request.initial_frame)
        image = framing(image.shape[:2], (video.height, video.width), 0.5).apply(image)  # as clips are framed
        started = time.monotonic()
        best: tuple[tuple[float, float], int, np.ndarray] | None = None  # (rank, seed, frames); one video in memory
        scores: list[dict[str, float]] = []
        for seed in range(request.seed, request.seed + request.best_of):
            frames = self._generate(image, request, seed)
            rank = (0.0, 0.0)
            if self.judge is not None:
                judged = self.judge.judge(Video(frames, video.fps), request.instruction).scores
                scores.append({criterion.value: score for criterion, score in judged.items()})
                rank = (judged.get(Criterion.INSTRUCTION_FOLLOWING, 0.0), judged.get(Criterion.PHYSICS_ALIGNMENT, 0.0))
            if best is None or rank > best[0]:
                best = (rank, seed, frames)
        assert best is not None  # best_of >= 1
        _, chosen_seed, frames = best
        mp4 = _encode(frames, video.fps)
        meta = DreamMeta(**asdict(request), video=f"{request.stem}.mp4", video_sha256=hashlib.sha256(mp4).hexdigest(),
                         fps=video.fps, num_frames=len(frames), height=video.height, width=video.width,
                         chosen_seed=chosen_seed, judge_scores=tuple(scores), model_run=str(self.run.absolute()),
                         device=self.device, seconds=round(time.monotonic() - started, 3),
                         dreamgen_version=dreamgen_core.__version__)
        return Rendered(mp4, meta)

    def _generate(self, image: np.ndarray, request: DreamRequest, seed: int) -> np.ndarray:
        video = self.loaded.recipe.video
        frames = self.loaded.backend.generate(image, request.prompt, seed=seed, steps=request.steps,
                                              guidance=request.guidance, negative_prompt=request.negative_prompt)
        expected = (video.height, video.width, 3)
        if frames.ndim != 4 or frames.shape[1:] != expected or frames.dtype != np.uint8:
            raise WorldModelError(f"{self.loaded.recipe.backend}: generated {frames.dtype} {list(frames.shape)}, "
                                  f"expected uint8 [T, {', '.join(map(str, expected))}]")
        return frames


def dream(prompts_file: Path, run: Path, out: Path, options: DreamOptions = DreamOptions()) -> DreamReport:
    """Dream every row of `prompts_file` with the model of `run` into `out`; see the module doc."""
    _check(options)
    requests = plan(read_prompts(prompts_file), run, options.best_of, options.judge)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive(out):
        _remove_partial_files(out)
        report = _dream(requests, run, out, options)
        _write_failures(out, report.failures)
    return report


def _dream(requests: list[DreamRequest], run: Path, out: Path, options: DreamOptions) -> DreamReport:
    report = DreamReport(out)
    todo = []
    for request in requests:
        if finished(out, request):
            report.outcomes[request.stem] = Outcome.SKIPPED
        else:
            todo.append(request)
    with tqdm(total=len(requests), initial=len(requests) - len(todo), unit="dream", desc="dream",
              disable=not options.progress) as bar:
        def settle(request: DreamRequest, result: Rendered | Failure) -> None:
            if isinstance(result, Failure):
                report.failures.append(result)
                report.outcomes[request.stem] = Outcome.FAILED
            else:
                store(out, result)
                report.outcomes[request.stem] = Outcome.DREAMED
            bar.update()

        if todo and (options.workers > 1 or options.ray_address):
            report.actors = _fan_out(todo, run, options, settle)
        elif todo:
            _serial(todo, run, options, settle)
    report.failures.sort(key=lambda f: f.index)
    return report


def _check(options: DreamOptions) -> None:
    if options.workers < 1 or options.retries < 0 or options.best_of < 1:
        raise WorldModelError(f"--workers {options.workers} and --best-of {options.best_of} must be at least 1, "
                              f"--retries {options.retries} at least 0")
    from dreamgen_core.worldmodel.bench import JUDGES

    if options.judge is not None:
        JUDGES.check(options.judge, "--judge", "judge")
    elif options.best_of > 1:
        raise WorldModelError(f"--best-of {options.best_of} needs a --judge to pick the best "
                              f"(one of {', '.join(JUDGES.names())})")


def plan(prompts: list[Prompt], run: Path, best_of: int = 1, judge: str | None = None) -> list[DreamRequest]:
    """Each prompt row resolved against the run's recipe (sampler defaults, caption prefix) and model identity."""
    meta = RunMeta.read(run)
    if not meta.finished:
        raise WorldModelError(f"{run} has not finished training ({meta.steps_done}/{meta.steps_total} steps); "
                              "resume it with the same `dreamgen wm train` command")
    recipe = load_recipe(run / RECIPE_COPY)
    return [replace(_request(index, prompt, meta, recipe), best_of=best_of, judge=judge)
            for index, prompt in enumerate(prompts)]


def _request(index: int, prompt: Prompt, meta: RunMeta, recipe: Recipe) -> DreamRequest:
    sample = recipe.sample
    text = prompt.instruction if prompt.instruction.startswith(recipe.caption_prefix) else \
        recipe.caption_prefix + prompt.instruction  # the model was trained on captions with this prefix
    return DreamRequest(
        index=index, stem=dream_stem(index, prompt.instruction), instruction=prompt.instruction, prompt=text,
        negative_prompt=sample.negative_prompt if prompt.negative_prompt is None else prompt.negative_prompt,
        seed=prompt.seed, steps=sample.steps if prompt.steps is None else prompt.steps,
        guidance=sample.guidance if prompt.guidance is None else prompt.guidance,
        initial_frame_sha256=file_sha256(prompt.image), backend=meta.backend, recipe=meta.recipe,
        recipe_sha256=meta.recipe_sha256, base=meta.base, base_fingerprint=meta.base_fingerprint,
        weights_sha256=meta.weights_sha256, mode=meta.mode, initial_frame=str(prompt.image))


def finished(out: Path, request: DreamRequest) -> bool:
    """The item's sidecar exists, was made for this very request, and the mp4 beside it is the one it describes."""
    video, sidecar = out / f"{request.stem}.mp4", out / f"{request.stem}.json"
    if not (video.is_file() and sidecar.is_file()):
        return False
    try:
        meta = DreamMeta.read(sidecar)
    except (OSError, ValueError, TypeError):
        return False  # damaged or from another version: dream it again
    return meta.request() == request and file_sha256(video) == meta.video_sha256


def store(out: Path, rendered: Rendered) -> None:
    """The mp4 under a temporary name then renamed, the sidecar last; then older outputs of the same row go."""
    meta = rendered.meta
    write_bytes_atomic(out / meta.video, rendered.mp4)
    meta.write(out / f"{meta.stem}.json")
    for stale in out.glob(f"{meta.index:0{INDEX_DIGITS}d}_*"):  # the row's instruction was edited since
        if stale.suffix in {".mp4", ".json"} and stale.stem != meta.stem:
            stale.unlink()


def _remove_partial_files(out: Path) -> None:
    """Temporary files a killed run left (write_bytes_atomic's `.<name>.<random>.tmp`); we hold the lock."""
    for partial in out.glob(".*.tmp"):
        if partial.name[1:].split(".", 1)[0].split("_", 1)[0].isdigit():  # a dream's: .<idx>_<...>.mp4.<random>.tmp
            partial.unlink()


def _serial(todo: list[DreamRequest], run: Path, options: DreamOptions,
            settle: Callable[[DreamRequest, Rendered | Failure], None]) -> None:
    dreamer = Dreamer(run, options.device or _local_device(), options.base, options.judge, options.judge_options)
    for request in todo:
        errors: list[str] = []
        while len(errors) <= options.retries:
            try:
                settle(request, dreamer.render(request, Path(request.initial_frame).read_bytes()))
                break
            except Exception as exc:  # any failure of one item is that item's, reported below
                errors.append(_describe(exc))
        else:
            settle(request, _failure(request, errors))


def _fan_out(todo: list[DreamRequest], run: Path, options: DreamOptions,
             settle: Callable[[DreamRequest, Rendered | Failure], None]) -> int:
    """Ray actors, each with the run loaded once, kept busy from one queue; returns how many ran."""
    with ray_local.session(options.ray_address, command="dreamgen wm dream") as ray:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus:
            count, resources, device = min(gpus, len(todo)), {"num_gpus": 1}, "cuda"
        else:
            cpus = max(1, int(ray.available_resources().get("CPU", 1)))
            count, resources, device = min(options.workers, cpus, len(todo)), {"num_cpus": 1}, "cpu"
        actor_class = ray.remote(max_restarts=ACTOR_RESTARTS, **resources)(Dreamer)
        idle = [actor_class.remote(run.absolute(), options.device or device, options.base, options.judge,
                                   options.judge_options) for _ in range(count)]
        queue: deque[tuple[DreamRequest, list[str]]] = deque((request, []) for request in todo)
        running: dict[Any, tuple[Any, DreamRequest, list[str]]] = {}
        while queue or running:
            while idle and queue:
                request, errors = queue.popleft()
                try:
                    image = Path(request.initial_frame).read_bytes()
                except OSError as exc:
                    _retry_or_fail(request, [*errors, _describe(exc)], options.retries, queue, settle)
                    continue
                actor = idle.pop()
                running[actor.render.remote(request, image)] = (actor, request, errors)
            if not running:
                continue
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor, request, errors = running.pop(ref)
            idle.append(actor)
            try:
                settle(request, ray.get(ref))
            except Exception as exc:  # the item's error, re-raised by Ray (or the actor's death)
                _retry_or_fail(request, [*errors, _describe(getattr(exc, "cause", None) or exc)], options.retries,
                               queue, settle)
    return count


def _retry_or_fail(request: DreamRequest, errors: list[str], retries: int,
                   queue: deque[tuple[DreamRequest, list[str]]],
                   settle: Callable[[DreamRequest, Rendered | Failure], None]) -> None:
    if len(errors) <= retries:
        queue.append((request, errors))
    else:
        settle(request, _failure(request, errors))


def _failure(request: DreamRequest, errors: list[str]) -> Failure:
    return Failure(request.index, request.stem, request.instruction, request.initial_frame, len(errors), errors[-1])


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _write_failures(out: Path, failures: Iterable[Failure]) -> None:
    """failures.json lists this run's failures; a run without any removes an older list."""
    rows = [asdict(f) for f in failures]
    path = out / FAILURES
    if rows:
        write_json(path, rows)
    else:
        path.unlink(missing_ok=True)


def _local_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _decode_image(data: bytes, source: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise WorldModelError(f"{source}: not a readable image (PNG, JPEG, ...): {len(data)} bytes")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _encode(frames: np.ndarray, fps: float) -> bytes:
    """The frames as h264 mp4 bytes (the video writer needs a file: a private temporary one)."""
    with tempfile.TemporaryDirectory(prefix="dream-") as tmp:
        path = Path(tmp) / "dream.mp4"
        with VideoWriter(path, fps, frames.shape[1:3]) as writer:
            for frame in frames:
                writer.write(frame)
        return path.read_bytes()

