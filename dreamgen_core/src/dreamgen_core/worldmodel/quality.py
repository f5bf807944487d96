"""Measured dream quality: dreams against the real held-out episodes they started from, beside baselines.

Each dream is matched to the held-out clip of its instruction that it started from: the clip whose
first frame's sha256 (sim-clips' provenance.json) is the sidecar's `initial_frame_sha256`, else the
clip whose first frame is nearest to the dream's first frame (the conditioning frame, so a true
match differs only by video compression; below `MATCH_MIN_PSNR` the dream stays unmatched, and is
reported).
Dream frame i shows time i / fps (the sidecar's fps); the real clip's frame at that time
(round(t · clip fps), the last one past its end) is the truth. Four predictions are scored
against it (design/CPU_WORLD_MODEL.md §"What follows" 1):

- `model`: the dream itself;
- `copy_first_frame`: the real first frame, repeated;
- `mean_training_motion`: the real first frame + the mean over training clips of (frame t − frame 0);
- `nearest_training_clip`: the training clip whose first frame is nearest to the real first frame.

Both baselines draw on the training clips of the dream's instruction when there are any (a seed's
scene is filmed once per task, so first frames alone cannot tell tasks apart), else on all of them
(an instruction with no demos).

Metrics, frame 0 excluded (it is given, not predicted): per-frame MSE and PSNR on [0, 1] pixels
(the mean of each video's PSNR of its mean MSE, identical videos capped at `PSNR_CAP`); the named
cube's final error (px, its last-seen centroid against the real video's) and its displacement (px,
last seen against first seen, in the prediction); and the sim judge's instruction-following rate.
On the sim, retrieval (nearest clip) is a strong baseline: four numbers place every object.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.dataset.clips import CAPTION_PREFIX, framing
from dreamgen_core.sim.model import CUBE_RGBA
from dreamgen_core.sim.task import task_for
from dreamgen_core.video import decode_video
from dreamgen_core.worldmodel.bench.colours import mask, sightings, to_hsv
from dreamgen_core.worldmodel.bench.dreams import Dream, list_dreams
from dreamgen_core.worldmodel.bench.judge import Criterion, JudgeOptions, Video
from dreamgen_core.worldmodel.bench.sim_judge import MIN_AREA, SimJudge
from dreamgen_core.worldmodel.errors import WorldModelError

PSNR_CAP = 100.0
MATCH_MIN_PSNR = 28.0
METHODS = ("model", "copy_first_frame", "mean_training_motion", "nearest_training_clip")
_CUBES = tuple(CUBE_RGBA)


@dataclass(frozen=True)
class RealClip:
    name: str
    instruction: str
    fps: float
    frames: np.ndarray   # (N, H, W, 3) uint8 at the dreams' geometry
    first_frame_sha256: str = ""  # of its first frame's PNG (sim-clips), "" when the clip set does not say


@dataclass(frozen=True)
class MethodScores:
    method: str
    psnr: float
    mse_per_frame: list[float]          # frame 1 .. T-1, mean over dreams
    cube_final_error_px: float          # NaN when the cube was never seen in any prediction
    cube_displacement_px: float
    instruction_following: float        # sim judge
    videos: int


@dataclass(frozen=True)
class Match:
    dream: str
    clip: str
    first_frame_psnr: float
    by_hash: bool           # matched by the initial frame's sha256, not by the nearest first frame


@dataclass(frozen=True)
class QualityReport:
    dreams: str
    real: str
    train: str
    matched: list[Match]
    unmatched: list[str]                 # dream files with no held-out clip of the same scene and instruction
    methods: list[MethodScores]

    def table(self) -> str:
        lines = [f"{'method':<24}{'PSNR':>8}{'cube final err px':>19}{'cube moved px':>15}{'instr. follow':>15}"]
        lines += [f"{m.method:<24}{m.psnr:>8.2f}{m.cube_final_error_px:>19.1f}{m.cube_displacement_px:>15.1f}"
                  f"{m.instruction_following:>15.2f}" for m in self.methods]
        return "\n".join(lines)


def psnr(mse: float) -> float:
    """PSNR (dB) of a mean squared error on [0, 1] pixels; identical → PSNR_CAP."""
    return PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else min(PSNR_CAP, -10 * math.log10(mse))


def frame_mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame MSE of two (T, H, W, 3) uint8 videos on [0, 1] pixels."""
    diff = a.astype(np.float64) / 255 - b.astype(np.float64) / 255
    return (diff ** 2).mean(axis=(1, 2, 3))


def read_clips(root: Path, size_hw: tuple[int, int]) -> list[RealClip]:
    """Every clip of a clip set (export-clips or sim-clips layout), decoded at `size_hw`."""
    root = Path(root)
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        raise WorldModelError(f"{root}: not a clip set (no metadata.csv); make one with `dreamgen wm sim-clips`")
    provenance = json.loads((root / "provenance.json").read_text()) if (root / "provenance.json").is_file() else {}
    prefix = provenance.get("caption_prefix", CAPTION_PREFIX)
    hashes = {c["name"]: c.get("first_frame_sha256", "") for c in provenance.get("clips", [])}
    clips = []
    with open(metadata, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            video = root / row["video_path"]
            if not video.is_file():
                raise WorldModelError(f"{metadata}: video_path {row['video_path']!r}: no such file")
            caption = row["caption"]
            frames = decode_video(video).frames
            frame = framing(frames.shape[1:3], size_hw, 0.5)
            clips.append(RealClip(video.stem, caption.removeprefix(prefix), float(row["fps"]),
                                  np.stack([frame.apply(image) for image in frames]), hashes.get(video.stem, "")))
    if not clips:
        raise WorldModelError(f"{metadata}: lists no clips")
    return clips


def at_times(clip: RealClip, count: int, fps: float) -> np.ndarray:
    """The clip's frames shown at times i / fps, i < count (its last frame past its end)."""
    index = np.minimum(np.round(np.arange(count) / fps * clip.fps).astype(int), len(clip.frames) - 1)
    return clip.frames[index]


def evaluate(dreams: Path, real: Path, train: Path, progress: bool = True) -> QualityReport:
    listed = list_dreams(dreams)
    loaded = [(d, d.load()) for d in listed]
    size_hw = loaded[0][1].frames.shape[1:3]
    real_clips, train_clips = read_clips(real, size_hw), read_clips(train, size_hw)
    judge = SimJudge(JudgeOptions())
    per_method: dict[str, list[_Scored]] = {m: [] for m in METHODS}
    matched, unmatched = [], []
    for dream, video in tqdm(loaded, unit="dream", desc="eval", disable=not progress):
        match = _match(dream, video, real_clips)
        if match is None:
            unmatched.append(dream.video.name)
            continue
        clip, similarity, by_hash = match
        matched.append(Match(dream.video.name, clip.name, similarity, by_hash))
        count = len(video.frames)
        truth = at_times(clip, count, video.fps)
        pool = [c for c in train_clips if c.instruction == clip.instruction] or train_clips
        predictions = {"model": video.frames, "copy_first_frame": np.repeat(truth[:1], count, axis=0),
                       "mean_training_motion": _mean_motion(truth[0], pool, count, video.fps),
                       "nearest_training_clip": at_times(_nearest(truth[0], pool), count, video.fps)}
        for method, frames in predictions.items():
            per_method[method].append(_score(frames, truth, video.fps, dream.instruction, judge))
    if not matched:
        raise WorldModelError(f"{dreams}: no dream starts from the first frame of a clip in {real} with the same "
                              f"instruction (first frames compared at {size_hw[1]}x{size_hw[0]})")
    return QualityReport(str(dreams), str(real), str(train), matched, unmatched,
                         [_aggregate(m, per_method[m]) for m in METHODS])


def write_report(report: QualityReport, path: Path) -> None:
    write_text_atomic(path, json.dumps(asdict(report), indent=1, allow_nan=True) + "\n")


@dataclass(frozen=True)
class _Scored:
    mse: np.ndarray
    cube_error: float
    cube_moved: float
    follows: float


def _match(dream: Dream, video: Video, clips: list[RealClip]) -> tuple[RealClip, float, bool] | None:
    first = video.frames[:1]
    same = [c for c in clips if task_for(c.instruction) == task_for(dream.instruction)] \
        if _in_family(dream.instruction) else [c for c in clips if c.instruction == dream.instruction]
    wanted = dream.sidecar.initial_frame_sha256 if dream.sidecar else ""
    for clip in same:
        if wanted and clip.first_frame_sha256 == wanted:
            return clip, psnr(float(frame_mse(first, clip.frames[:1])[0])), True
    if not same:
        return None
    scored = [(psnr(float(frame_mse(first, c.frames[:1])[0])), c) for c in same]
    best_psnr, best = max(scored, key=lambda s: s[0])
    return (best, best_psnr, False) if best_psnr >= MATCH_MIN_PSNR else None


def _in_family(instruction: str) -> bool:
    try:
        task_for(instruction)
    except ValueError:
        return False
    return True


def _mean_motion(first: np.ndarray, clips: list[RealClip], count: int, fps: float) -> np.ndarray:
    motion = np.mean([at_times(c, count, fps).astype(np.float64) - c.frames[0] for c in clips], axis=0)
    return np.clip(first.astype(np.float64) + motion, 0, 255).round().astype(np.uint8)


def _nearest(first: np.ndarray, clips: list[RealClip]) -> RealClip:
    return min(clips, key=lambda c: float(frame_mse(first[None], c.frames[:1])[0]))


def _score(frames: np.ndarray, truth: np.ndarray, fps: float, instruction: str, judge: SimJudge) -> _Scored:
    cube = task_for(instruction).cube
    predicted, real = _cube_path(frames, cube), _cube_path(truth, cube)
    error = math.dist(predicted[1], real[1]) if predicted and real else math.nan
    moved = math.dist(*predicted) if predicted else math.nan
    follows = judge.judge(Video(frames, fps), instruction).scores[Criterion.INSTRUCTION_FOLLOWING]
    return _Scored(frame_mse(frames[1:], truth[1:]), error, moved, follows)


def _cube_path(frames: np.ndarray, cube: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """First and last seen centroid of a cube, or None when it is never seen."""
    _, h, w, _ = frames.shape
    seen = [s for s in sightings(mask(to_hsv(frames), cube), max(2, round(MIN_AREA * h * w))) if s.area]
    return ((seen[0].x, seen[0].y), (seen[-1].x, seen[-1].y)) if seen else None


def _aggregate(method: str, scored: list[_Scored]) -> MethodScores:
    longest = max(len(s.mse) for s in scored)
    per_frame = [float(np.mean([s.mse[i] for s in scored if i < len(s.mse)])) for i in range(longest)]
    return MethodScores(method, float(np.mean([psnr(float(s.mse.mean())) for s in scored])), per_frame,
                        _nanmean([s.cube_error for s in scored]), _nanmean([s.cube_moved for s in scored]),
                        float(np.mean([s.follows for s in scored])), len(scored))


def _nanmean(values: list[float]) -> float:
    """The mean of the values that are numbers; NaN when none is."""
    numbers = [v for v in values if not math.isnan(v)]
    return float(np.mean(numbers)) if numbers else math.nan
