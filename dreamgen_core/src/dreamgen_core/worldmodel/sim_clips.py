"""World-model clips straight from the simulated GR1: the scripted expert pushes, the head camera films.

No ROS and no dataset in between: each (seed, task) pair is one episode of `SimRobot` driven by
`ScriptedExpert` at the embodiment's control rate (`run_episode`), the head camera rendered
offscreen after every control period. The 16:10 view is rendered at twice the clip's resolution
(so edges are antialiased as a real camera's downscaled frames are) and framed exactly as
`dataset export-clips` frames raw camera video (`dataset.clips.framing`: centred crop to the clip's
aspect ratio, then resize); frames are resampled from the control rate to 16 fps the same way too
(`resample_indices`). The output is a clip set in export-clips' layout, built as an `AtomicDir`:

    <out>/videos/<name>.mp4   <out>/metas/<name>.txt   <out>/metadata.csv   <out>/provenance.json

plus what `wm dream` needs to dream from the same scenes (held-out seeds: dreams to compare with
the real clips, `wm eval`): each clip's first frame, lossless, and a prompt file naming them:

    <out>/first_frames/<name>.png   <out>/prompts.jsonl   {image, instruction, seed}

provenance.json records each first frame's sha256, the `initial_frame_sha256` of a dream's sidecar.

Episodes the expert fails are left out and listed in provenance.json. Seeds are the held-out
mechanism: a seed fixes the layout, so clips of seeds 0:200 train and clips of 1000:1020 test.
Episodes run in worker processes (`sim.episodes.episode_pool`: forkserver, MuJoCo's EGL context must not be forked).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

import dreamgen_core.sim  # noqa: F401  (headless MuJoCo: MUJOCO_GL=egl before mujoco is imported)
from dreamgen_core.atomic import AtomicDir, write_bytes_atomic, write_text_atomic
from dreamgen_core.config import ConfigError
from dreamgen_core.dataset.clips import CAPTION_PREFIX, METADATA_COLUMNS, Framing, framing, resample_indices
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.sim.episodes import episode_pool, run_seeded, sim_worker
from dreamgen_core.sim.task import TASKS, Task
from dreamgen_core.video import EncoderConfig, VideoWriter
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.prompts import PROMPTS_FILE, Prompt, write_prompts

CLIP_FPS = 16.0
FIRST_FRAMES = "first_frames"
SUPERSAMPLE = 2    # render at this multiple of the clip's crop, then downscale (antialiasing)
SETTLE_S = 0.5     # filmed after the expert's last waypoint: the scene at rest ends every clip
MAX_EPISODE_S = 60.0  # the expert's plans last 6-9 s; a longer episode is a bug, not a clip


@dataclass(frozen=True)
class SimClipConfig:
    seeds: tuple[int, ...]
    tasks: tuple[Task, ...] = TASKS
    size_hw: tuple[int, int] = (64, 64)
    workers: int = 2
    embodiment: str = "gr1"
    encoder: EncoderConfig = EncoderConfig()


@dataclass(frozen=True)
class Episode:
    """One (seed, task) pair and what it became."""

    seed: int
    task: str
    instruction: str
    success: bool
    name: str = ""        # clip name; empty when the expert failed and no clip was written
    num_frames: int = 0
    first_frame_sha256: str = ""


@dataclass
class SimClipReport:
    framing: Framing
    episodes: list[Episode] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def written(self) -> list[Episode]:
        return [e for e in self.episodes if e.success]

    @property
    def failed(self) -> list[Episode]:
        return [e for e in self.episodes if not e.success]


def clip_name(seed: int, task: Task) -> str:
    return f"seed{seed:06d}_{task.name}"


def render_framing(native_hw: tuple[int, int], size_hw: tuple[int, int]) -> Framing:
    """The camera's native aspect ratio rendered just large enough that the clip's crop of it is
    SUPERSAMPLE times the clip size, and that crop (export-clips' centred framing)."""
    (nh, nw), (h, w) = native_hw, size_hw
    r0, r1, c0, c1 = framing(native_hw, size_hw, 0.5).crop
    crop_h, crop_w = r1 - r0, c1 - c0
    scale = SUPERSAMPLE * max(h / crop_h, w / crop_w)
    return framing((round(nh * scale), round(nw * scale)), size_hw, 0.5)


def make_sim_clips(out: Path, config: SimClipConfig, progress: bool = True) -> SimClipReport:
    """Run every (seed, task) episode and write the successful ones as a clip set at `out` (must not exist)."""
    out = Path(out)
    if config.size_hw[0] % 2 or config.size_hw[1] % 2 or min(config.size_hw) < 16:
        raise ConfigError("--size", "size", config.size_hw, "clip sides must be even and at least 16 pixels")
    if config.workers < 1:
        raise ConfigError("--workers", "workers", config.workers, "must be at least 1")
    camera = next(iter(load_embodiment(config.embodiment).cameras.values()))
    frame = render_framing((camera.height, camera.width), config.size_hw)
    jobs = [(seed, task) for seed in config.seeds for task in config.tasks]
    report = SimClipReport(frame)
    started = time.monotonic()
    with AtomicDir(out, validate=_check_clip_set) as build:
        if out.exists():  # under the lock: a concurrent run cannot slip in after the check
            raise WorldModelError(f"{out}: already exists; choose a new --out directory")
        for folder in ("videos", "metas", FIRST_FRAMES):
            (build / folder).mkdir()
        results = _run(jobs, build, config, frame)
        for episode in tqdm(results, total=len(jobs), unit="episode", desc="sim-clips", disable=not progress):
            report.episodes.append(episode)
        report.seconds = time.monotonic() - started
        if not report.written:
            raise WorldModelError(f"{out}: the expert failed all {len(jobs)} episodes; nothing to write")
        _write_index(build, report)
        write_prompts(build / PROMPTS_FILE, [Prompt(i + 1, build / FIRST_FRAMES / f"{e.name}.png", e.instruction, e.seed)
                                        for i, e in enumerate(report.written)])
        _write_provenance(build, config, report)
    return report


def _run(jobs: list[tuple[int, Task]], build: Path, config: SimClipConfig, frame: Framing) -> Iterator[Episode]:
    with episode_pool(config.embodiment, config.workers, len(jobs)) as pool_map:
        yield from pool_map(partial(_episode, build=build, config=config, frame=frame), jobs)


def _episode(job: tuple[int, Task], build: Path, config: SimClipConfig, frame: Framing) -> Episode:
    """Run one episode, filming at the control rate; write its clip if the expert succeeded."""
    seed, task = job
    worker = sim_worker(config.embodiment)
    camera = worker.camera(*frame.source_hw)
    control_hz = worker.spec.rates.control_hz
    # Only the control periods a 16 fps frame shows are rendered (reading pixels back is most of the cost).
    shown = set(resample_indices(round(MAX_EPISODE_S * control_hz), control_hz, CLIP_FPS).tolist())
    frames: dict[int, np.ndarray] = {}
    ticks = 0

    def film() -> None:
        nonlocal ticks
        if ticks in shown:
            frames[ticks] = frame.apply(camera.render())
        ticks += 1

    success = run_seeded(worker, seed, task, SETTLE_S, observe=film)
    if not success:
        return Episode(seed, task.name, task.instruction, False)
    if ticks > MAX_EPISODE_S * control_hz:
        raise WorldModelError(f"seed {seed} {task.name}: the episode ran {ticks / control_hz:.1f} s, "
                              f"longer than the {MAX_EPISODE_S:g} s a clip may film")
    name = clip_name(seed, task)
    picks = resample_indices(ticks, control_hz, CLIP_FPS)
    with VideoWriter(build / "videos" / f"{name}.mp4", CLIP_FPS, config.size_hw, config.encoder) as video:
        for index in picks:
            video.write(frames[index])
    write_text_atomic(build / "metas" / f"{name}.txt", CAPTION_PREFIX + task.instruction + "\n")
    ok, png = cv2.imencode(".png", cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    if not ok:
        raise WorldModelError(f"{name}: could not PNG-encode its first frame")
    write_bytes_atomic(build / FIRST_FRAMES / f"{name}.png", png.tobytes())
    return Episode(seed, task.name, task.instruction, True, name, len(picks), hashlib.sha256(png.tobytes()).hexdigest())


def _write_index(build: Path, report: SimClipReport) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(METADATA_COLUMNS)
    for index, episode in enumerate(report.written):
        writer.writerow((f"videos/{episode.name}.mp4", CAPTION_PREFIX + episode.instruction, episode.num_frames,
                         CLIP_FPS, index))
    write_text_atomic(build / "metadata.csv", text.getvalue())


def _write_provenance(build: Path, config: SimClipConfig, report: SimClipReport) -> None:
    control_hz = load_embodiment(config.embodiment).rates.control_hz
    f = report.framing
    manifest = {
        "source": "simulated GR1, scripted expert, no ROS (dreamgen wm sim-clips)",
        "embodiment": config.embodiment, "fps_in": control_hz, "fps_out": CLIP_FPS, "size_hw": list(config.size_hw),
        "resampling": "nearest-earlier: source index floor(j * fps_in / fps_out)", "caption_prefix": CAPTION_PREFIX,
        "framing": {"description": f.describe(), "source_hw": list(f.source_hw), "crop_rows": list(f.crop[:2]),
                    "crop_cols": list(f.crop[2:]), "crop_offset": 0.5, "upscaled": f.upscales},
        "seeds": _seed_ranges(config.seeds), "tasks": [t.name for t in config.tasks],
        "clips": [{"episode_index": i, **asdict(e)} for i, e in enumerate(report.written)],
        "failed": [asdict(e) for e in report.failed],
    }
    write_text_atomic(build / "provenance.json", json.dumps(manifest, indent=1) + "\n")


def _seed_ranges(seeds: Sequence[int]) -> str:
    return f"{seeds[0]}:{seeds[-1] + 1}" if list(seeds) == list(range(seeds[0], seeds[-1] + 1)) else \
        ",".join(map(str, seeds))


def _check_clip_set(build: Path) -> list[str]:
    """Every clip metadata.csv lists exists, and no other video does."""
    with open(build / "metadata.csv", newline="", encoding="utf-8") as f:
        listed = {row["video_path"] for row in csv.DictReader(f)}
    present = {f"videos/{p.name}" for p in (build / "videos").iterdir()}
    return [f"{path}: listed in metadata.csv but missing" for path in sorted(listed - present)] + \
           [f"{path}: not listed in metadata.csv" for path in sorted(present - listed)]
