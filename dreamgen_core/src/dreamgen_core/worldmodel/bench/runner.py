"""`wm bench`: score every dream with one judge and write the results as DreamGen Bench does.

    OUT/instruction_following.csv   video_path,prompt,prediction   (the reference's columns)
    OUT/physics_alignment.csv       video_path,prompt,prediction
    OUT/scores.json                 BenchScores: judge, counts, the mean of each criterion, per-video notes

OUT (default DREAMS/bench_<judge>) appears atomically. A dream the judge cannot score (an
instruction outside the sim's task family, an unreadable video) is an error naming the file: a
bench that quietly skips videos reports means over an unknown subset.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from dreamgen_core.atomic import AtomicDir, write_text_atomic
from dreamgen_core.config import ConfigError
from dreamgen_core.worldmodel.bench import JUDGES
from dreamgen_core.worldmodel.bench.dreams import list_dreams
from dreamgen_core.worldmodel.bench.judge import Criterion, DreamJudge, JudgeOptions
from dreamgen_core.worldmodel.errors import WorldModelError

SCORES = "scores.json"
CSV_COLUMNS = ("video_path", "prompt", "prediction")


@dataclass(frozen=True)
class VideoScore:
    video_path: str
    instruction: str
    scores: dict[str, float]
    notes: str


@dataclass(frozen=True)
class BenchScores:
    judge: str
    dreams: str
    count: int
    means: dict[str, float]
    videos: list[VideoScore]


def default_out(dreams: Path, judge: str) -> Path:
    return Path(dreams) / f"bench_{judge}"


def make_judge(name: str, options: JudgeOptions) -> DreamJudge:
    judge: DreamJudge = JUDGES.load(name, "--judge", "judge")(options)
    return judge


def run_bench(dreams: Path, judge_name: str, options: JudgeOptions | None = None, out: Path | None = None,
              progress: bool = True) -> BenchScores:
    judge = make_judge(judge_name, options or JudgeOptions())
    out = Path(out) if out is not None else default_out(dreams, judge_name)
    videos: list[VideoScore] = []
    for dream in tqdm(list_dreams(dreams), unit="video", desc=f"bench ({judge_name})", disable=not progress):
        try:
            judgement = judge.judge(dream.load(), dream.instruction)
        except ConfigError as exc:  # e.g. an instruction outside the sim's task family
            raise WorldModelError(f"{dream.video}: the {judge_name} judge cannot score it: {exc}") from exc
        videos.append(VideoScore(dream.video.name, dream.instruction,
                                 {c.value: judgement.scores[c] for c in Criterion}, judgement.notes))
    means = {c.value: sum(v.scores[c.value] for v in videos) / len(videos) for c in Criterion}
    result = BenchScores(judge_name, str(dreams), len(videos), means, videos)
    with AtomicDir(out) as build:
        for criterion in Criterion:
            write_text_atomic(build / f"{criterion.value}.csv", _csv(videos, criterion))
        write_text_atomic(build / SCORES, json.dumps(asdict(result), indent=1, ensure_ascii=False) + "\n")
    return result


def _csv(videos: list[VideoScore], criterion: Criterion) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for video in videos:
        writer.writerow((video.video_path, video.instruction, _number(video.scores[criterion.value])))
    return text.getvalue()


def _number(value: float) -> str:
    """0/1 verdicts as the reference writes them (0, 1); scores as they are."""
    return str(int(value)) if value in (0.0, 1.0) else f"{value:g}"
