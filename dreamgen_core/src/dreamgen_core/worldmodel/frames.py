"""`wm frames`: the first frame of each episode's raw camera video, as the prompts of a dream job.

    <out>/episode_NNNNNN.png   the first frame, framed as `export-clips` frames clips (same helpers)
    <out>/prompts.jsonl        {image, instruction (the episode's task), seed (the episode index)}

Users edit the prompt file or extend it: photos of new scenes, instructions of tasks with no demos.
The directory appears atomically (an `AtomicDir`) and must not exist yet, so edits are never
overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dreamgen_core.atomic import AtomicDir, write_bytes_atomic
from dreamgen_core.dataset import layout as L
from dreamgen_core.dataset.clips import ClipConfig, Framing, instruction_index, source_framing
from dreamgen_core.dataset.validate import require_valid
from dreamgen_core.video import iter_frames
from dreamgen_core.worldmodel.prompts import PROMPTS_FILE, Prompt, write_prompts


@dataclass(frozen=True)
class FramesReport:
    video_key: str
    framing: Framing
    prompts: list[Prompt]


def extract_frames(dataset: Path, out: Path, config: ClipConfig,
                   episodes: Sequence[int] | None = None) -> FramesReport:
    """Write the first frame of each episode (all, or `episodes`) and a prompt file to `out`."""
    dataset, out = Path(dataset), Path(out)
    require_valid(dataset)
    info = L.read_json(dataset / "meta" / "info.json")
    key, frame = source_framing(dataset, info, config)
    tasks = [row["task"] for row in L.read_jsonl(dataset / "meta" / "tasks.jsonl")]
    indices = [row["episode_index"] for row in L.read_jsonl(dataset / "meta" / "episodes.jsonl")]
    unknown = sorted(set(episodes or ()) - set(indices))
    if unknown:
        raise L.DatasetError(f"{dataset}: --episodes {unknown}: no such episodes (it has {len(indices)}, "
                             f"{indices[0]}..{indices[-1]})")
    chosen = [i for i in indices if episodes is None or i in episodes]
    with AtomicDir(out) as build:
        if out.exists():  # checked under the lock
            raise L.DatasetError(f"{out}: already exists (it may hold edited prompts); choose a new --out directory")
        prompts: list[Prompt] = []
        for index in chosen:
            name = f"episode_{index:06d}.png"
            _write_png(build / name, frame.apply(_first_frame(dataset / L.video_file(key, index))))
            prompts.append(Prompt(line=len(prompts) + 1, image=Path(name),
                                  instruction=tasks[instruction_index(dataset, index)], seed=index))
        write_prompts(build / PROMPTS_FILE, prompts)
    return FramesReport(key, frame, prompts)


def _first_frame(video: Path) -> np.ndarray:
    for _, image in iter_frames(video):
        return image
    raise L.DatasetError(f"{video}: holds no frame")


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    write_bytes_atomic(path, data.tobytes())
