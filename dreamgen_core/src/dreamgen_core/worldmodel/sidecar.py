"""A dream's sidecar: `<stem>.json` beside `<stem>.mp4`, saying everything that made the video.

`DreamRequest` is what is decided before a dream is generated (the prompt row resolved against the
recipe's defaults, and the model's identity); `DreamMeta` adds what generating it produced. A
re-run counts a dream as finished only when its sidecar holds the same request and the mp4's
sha256 is the one the sidecar recorded, so an edited prompt row, another model or a damaged video
is dreamed again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from dreamgen_core.atomic import write_text_atomic


@dataclass(frozen=True)
class DreamRequest:
    index: int                          # prompt row, 0-based; the name's <idx>
    stem: str                           # file name without suffix (naming.dream_stem)
    instruction: str                    # exactly as the prompt file gives it
    prompt: str                         # the text the model was given: the recipe's caption prefix + instruction
    negative_prompt: str
    seed: int
    steps: int
    guidance: float
    initial_frame_sha256: str
    backend: str
    recipe: str
    recipe_sha256: str
    base: str | None                    # the base model's directory; None: the run's own tiny base
    base_fingerprint: str
    weights_sha256: str | None          # the LoRA file (or fully fine-tuned weights) of the run
    mode: str                           # "lora" | "full"
    best_of: int = 1
    judge: str | None = None
    initial_frame: str = field(default="", compare=False)  # where it was read; moving it changes nothing


@dataclass(frozen=True)
class DreamMeta(DreamRequest):
    video: str = ""                     # the mp4's file name, beside this sidecar
    video_sha256: str = ""
    fps: float = 0.0
    num_frames: int = 0
    height: int = 0
    width: int = 0
    chosen_seed: int = 0                # the seed of the kept video (best-of-N tries seed, seed + 1, ...)
    judge_scores: tuple[dict[str, float], ...] = ()  # per candidate in seed order, by criterion; () without a judge
    model_run: str = ""                 # the run directory the model was loaded from
    device: str = ""
    seconds: float = 0.0                # generating (and judging) this dream, model loading excluded
    dreamgen_version: str = ""

    def request(self) -> DreamRequest:
        return DreamRequest(**{f.name: getattr(self, f.name) for f in fields(DreamRequest)})

    def write(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def read(cls, path: Path) -> DreamMeta:
        """The sidecar at `path`; ValueError (or OSError) when it is not one."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or set(data) != {f.name for f in fields(cls)}:
            raise ValueError(f"{path}: not a dream sidecar of this dreamgen version")
        return cls(**{**data, "judge_scores": tuple(data["judge_scores"])})
