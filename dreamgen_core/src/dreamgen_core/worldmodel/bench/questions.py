"""What a model judge is shown and asked, and how its answer is read: shared by `vlm` and `openai`.

The reference DreamGen Bench asks a VLM (Qwen2.5-VL) yes/no questions about frames sampled from the
video; its exact prompt text was not available here, so these are our own plain yes/no questions,
one per criterion. Frames: `num_frames` evenly spaced, the first and the last always included.
An answer is read from its first word (yes/no, any case, punctuation ignored), else from the only
one of the two words it contains; anything else is unreadable and scores 0, flagged in the notes.
"""

from __future__ import annotations

import re

import numpy as np

from dreamgen_core.worldmodel.bench.judge import Criterion

QUESTIONS: dict[Criterion, str] = {
    Criterion.INSTRUCTION_FOLLOWING: (
        "These are {n} frames of a video of a robot, in time order. The robot was instructed: \"{instruction}\" "
        "By the last frame, has the robot done what the instruction says? Answer yes or no."),
    Criterion.PHYSICS_ALIGNMENT: (
        "These are {n} frames of a video of a robot, in time order. Does everything in the video move in a "
        "physically plausible way: no object appears, disappears, teleports, changes shape or passes "
        "through another, and objects move only when something pushes or carries them? Answer yes or no."),
}
_WORD = re.compile(r"[a-z]+")


def sample_frames(frames: np.ndarray, count: int) -> np.ndarray:
    """`count` frames evenly spaced over the video, first and last included (all of a shorter video)."""
    if count < 1:
        raise ValueError(f"frames to sample must be at least 1, got {count}")
    if len(frames) <= count:
        return frames
    return frames[np.linspace(0, len(frames) - 1, count).round().astype(int)]


def question(criterion: Criterion, instruction: str, num_frames: int) -> str:
    return QUESTIONS[criterion].format(n=num_frames, instruction=instruction)


def parse_answer(text: str) -> float | None:
    """1.0 for yes, 0.0 for no, None when the answer says neither (or both without leading with one)."""
    words = _WORD.findall(text.lower())
    if words and words[0] in ("yes", "no"):
        return 1.0 if words[0] == "yes" else 0.0
    found = {w for w in words if w in ("yes", "no")}
    if len(found) == 1:
        return 1.0 if found == {"yes"} else 0.0
    return None
