"""The dream-judge interface: one video and its instruction in, a score per DreamGen Bench criterion out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum

import numpy as np


class Criterion(str, Enum):
    INSTRUCTION_FOLLOWING = "instruction_following"   # 0/1: the video does what the instruction says
    PHYSICS_ALIGNMENT = "physics_alignment"           # 0/1 (or a score in [0, 1]): nothing physically impossible


@dataclass(frozen=True)
class Video:
    """Decoded frames (T, H, W, 3) uint8 and the rate they play at (seconds between frames = 1 / fps)."""

    frames: np.ndarray
    fps: float


@dataclass(frozen=True)
class Judgement:
    scores: dict[Criterion, float]
    notes: str = ""          # why, in a few words (the sim judge's failed checks, a model's raw answer)


@dataclass(frozen=True)
class JudgeOptions:
    """Everything a judge may need; each judge checks the fields it uses and ignores the rest."""

    model: str | None = None            # vlm: local model directory; openai: the endpoint's model name
    base_url: str | None = None         # openai: e.g. http://127.0.0.1:8000/v1
    api_key_env: str = "OPENAI_API_KEY"  # openai: the environment variable holding the key
    timeout_s: float = 60.0
    num_frames: int = 8                 # frames shown to a model judge, evenly spaced, first and last included
    device: str = "cpu"


class DreamJudge(ABC):
    """Scores one video at a time; construct with `JudgeOptions`."""

    def __init__(self, options: JudgeOptions) -> None:
        self.options = options

    @abstractmethod
    def judge(self, video: Video, instruction: str) -> Judgement:
        """Scores of `video` for every Criterion."""
