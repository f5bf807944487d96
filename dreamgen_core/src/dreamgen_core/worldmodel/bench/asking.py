"""A model judge: ask each criterion's question about sampled frames, read yes/no (`questions`)."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from dreamgen_core.worldmodel.bench.judge import Criterion, DreamJudge, Judgement, Video
from dreamgen_core.worldmodel.bench.questions import parse_answer, question, sample_frames

_SHOWN_ANSWER = 80


class AskingJudge(DreamJudge):
    """Subclasses say how to put one question with its frames to their model (`ask`)."""

    @abstractmethod
    def ask(self, frames: np.ndarray, text: str) -> str:
        """The model's answer to `text` about `frames` (N, H, W, 3) uint8."""

    def judge(self, video: Video, instruction: str) -> Judgement:
        frames = sample_frames(video.frames, self.options.num_frames)
        scores, notes = {}, []
        for criterion in Criterion:
            answer = self.ask(frames, question(criterion, instruction, len(frames)))
            score = parse_answer(answer)
            if score is None:
                notes.append(f"{criterion.value}: unreadable answer {answer[:_SHOWN_ANSWER]!r}, scored 0")
            scores[criterion] = score or 0.0
        return Judgement(scores, "; ".join(notes))
