"""A directory of dreams as the bench reads it: every `<stem>.mp4`, its instruction and frame rate.

The instruction is the sidecar's exact text (`<stem>.json`, written by `wm dream`); without a
readable sidecar (dreams made elsewhere) it is the reference convention's reading of the file name,
`stem.split("_", 1)[1].replace("_", " ")`, and the frame rate is the container's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dreamgen_core.video import decode_video, probe_video
from dreamgen_core.worldmodel.bench.judge import Video
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.naming import instruction_of
from dreamgen_core.worldmodel.sidecar import DreamMeta


@dataclass(frozen=True)
class Dream:
    video: Path
    instruction: str
    fps: float
    sidecar: DreamMeta | None     # None: no sidecar, instruction and fps read from the file

    def load(self) -> Video:
        frames = decode_video(self.video).frames
        if len(frames) == 0:
            raise WorldModelError(f"{self.video}: no video frames decoded")
        return Video(frames, self.fps)


def list_dreams(directory: Path) -> list[Dream]:
    """The dreams of `directory`, in name order (prompt order); an error when there are none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"dreams directory {directory} does not exist")
    videos = sorted(directory.glob("*.mp4"))
    if not videos:
        raise WorldModelError(f"{directory}: no dream videos (*.mp4); make some with `dreamgen wm dream`")
    return [_dream(video) for video in videos]


def _dream(video: Path) -> Dream:
    try:
        meta: DreamMeta | None = DreamMeta.read(video.with_suffix(".json"))
    except (OSError, ValueError):
        meta = None
    if meta is not None:
        return Dream(video, meta.instruction, meta.fps, meta)
    if "_" not in video.stem:
        raise WorldModelError(f"{video}: no sidecar {video.with_suffix('.json').name} and the name is not "
                              "<idx>_<Instruction_underscored>: the instruction is unknown")
    fps = float(probe_video(video).fps)
    if fps <= 0:
        raise WorldModelError(f"{video}: no sidecar and the container states no frame rate")
    return Dream(video, instruction_of(video.stem), fps, None)
