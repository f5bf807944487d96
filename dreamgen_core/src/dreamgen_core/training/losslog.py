"""A training run's loss log: RUN/loss.csv (step,loss,lr,seconds), one row per step, and its plot RUN/loss.png.

Rows are appended as steps finish, so a killed run keeps its log up to the kill. A resumed run
redoes the steps after its checkpoint, so on opening the log keeps only rows up to that step (and
drops a half-written last line), rewritten atomically: the log always agrees with the weights.
`seconds` is the time spent in training steps so far (checkpoint writes left out), summed over resumes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from dreamgen_core.atomic import write_bytes_atomic, write_text_atomic

HEADER = ("step", "loss", "lr", "seconds")
SMOOTHING = 0.9  # exponential moving average weight of the smoothed curve


class LossLog:
    """Open at `start` (the resumed step, 0 for a fresh run); `writer=False` (other processes) keeps rows in memory only."""

    def __init__(self, path: Path, start: int, writer: bool = True) -> None:
        self.path, self.writer = Path(path), writer
        self.rows = [row for row in read_loss_csv(self.path) if row[0] <= start] if self.path.is_file() else []
        if writer:
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows([HEADER, *self.rows])
            write_text_atomic(self.path, text.getvalue())

    def append(self, step: int, loss: float, lr: float, seconds: float) -> None:
        row = (step, loss, lr, seconds)
        self.rows.append(row)
        if self.writer:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(f"{step},{loss!r},{lr!r},{seconds:.3f}\n")

    def plot(self, path: Path) -> None:
        """The raw and smoothed loss against the step, as a PNG (matplotlib, Agg: no display needed)."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        steps = [r[0] for r in self.rows]
        losses = [r[1] for r in self.rows]
        smoothed, level = [], losses[0] if losses else 0.0
        for value in losses:
            level = SMOOTHING * level + (1 - SMOOTHING) * value
            smoothed.append(level)
        figure = Figure(figsize=(7, 4), dpi=100)
        axes = figure.subplots()
        axes.plot(steps, losses, color="tab:blue", alpha=0.35, linewidth=1, label="loss")
        axes.plot(steps, smoothed, color="tab:blue", linewidth=2, label=f"smoothed (EMA {SMOOTHING})")
        axes.set_xlabel("step")
        axes.set_ylabel("training loss")
        axes.set_yscale("log" if losses and min(losses) > 0 else "linear")
        axes.grid(True, alpha=0.3)
        axes.legend()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        write_bytes_atomic(path, buffer.getvalue())


def read_loss_csv(path: Path) -> list[tuple[int, float, float, float]]:
    """The complete rows of a loss.csv; a line cut short by a kill is left out."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for record in csv.DictReader(f):
            try:
                rows.append((int(record["step"]), float(record["loss"]), float(record["lr"]), float(record["seconds"])))
            except (TypeError, ValueError):
                continue
    return rows
