"""The dreams of a `wm dream` directory as the labeller sees them: video, sidecar, framing, scene.

    DREAMS/<idx>_<Instruction>.mp4 + .json (DreamMeta)   → DreamItem, in prompt-row order

Framing: the IDM must know where a dream's pixels sit in the raw camera frame (`idm.view.FrameView`,
fractions of the frame). A dream is its first frame, framed by `wm dream` (centred crop to the
recipe's aspect ratio, `dataset.clips.framing`), and that first frame is itself a crop of a camera
frame. Only the first frame's maker knows the second part: `wm sim-clips` records it in its clip
set (`provenance.json` "framing", beside `first_frames/`), and the clip entry with the first
frame's sha256 names the sim scene (seed) it shows. A dream whose first frame came from elsewhere
(`wm frames`, a photo) has no recorded framing: the labeller refuses it unless the user says how it
was framed (`view`: "centre" — a centred crop of the camera frame to the dream's aspect ratio, what
every dreamgen command does by default — or explicit fractions "top,left,bottom,right").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamgen_core.dataset.clips import framing
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.replay import Scene
from dreamgen_core.idm.view import FrameView
from dreamgen_core.sim.task import UnknownInstruction, task_for
from dreamgen_core.worldmodel.sidecar import DreamMeta
from dreamgen_core.worldmodel.sim_clips import FIRST_FRAMES

CLIP_MANIFEST = "provenance.json"
CENTRE = "centre"


@dataclass(frozen=True)
class DreamItem:
    index: int
    video: Path
    meta: DreamMeta
    view: FrameView
    view_source: str        # how `view` was found, for provenance
    scene: Scene | None     # None: not a sim scene (or not known), so no replay

    @property
    def source_key(self) -> str:
        return self.meta.video_sha256

    @property
    def seed(self) -> int:
        """The labelling seed: from the dream itself (its video hash), never from a worker."""
        return int(self.meta.video_sha256[:8], 16)


def find_dreams(dreams: Path, spec: Embodiment, view: str | None = None) -> list[DreamItem]:
    """Every dream of `dreams` (sidecar + mp4 whose sha256 matches), in prompt-row order."""
    dreams = Path(dreams)
    if not dreams.is_dir():
        raise IdmError(f"{dreams}: no such dreams directory (the --out of `dreamgen wm dream`)")
    items = []
    for sidecar in sorted(dreams.glob("[0-9]*_*.json")):
        try:
            meta = DreamMeta.read(sidecar)
        except (OSError, ValueError, TypeError) as exc:
            raise IdmError(f"{sidecar}: not a dream sidecar: {exc}") from exc
        video = dreams / meta.video
        if not video.is_file():
            raise IdmError(f"{sidecar}: video: {meta.video}: missing beside it")
        digest = hashlib.sha256(video.read_bytes()).hexdigest()
        if digest != meta.video_sha256:
            raise IdmError(f"{video}: sha256 {digest[:16]}: its sidecar says {meta.video_sha256[:16]} "
                           "(damaged or replaced; dream it again)")
        frame_view, source, scene = resolve(meta, sidecar, spec, view)
        items.append(DreamItem(meta.index, video, meta, frame_view, source, scene))
    if not items:
        raise IdmError(f"{dreams}: no dreams (<idx>_<instruction>.mp4 with its .json sidecar)")
    return sorted(items, key=lambda item: item.index)


def resolve(meta: DreamMeta, sidecar: Path, spec: Embodiment, view: str | None) -> tuple[FrameView, str, Scene | None]:
    """The dream's FrameView, where it came from, and its sim scene (when its first frame's clip set says)."""
    manifest, entry = _clip_entry(meta)
    scene = _scene(meta, entry)
    if view is not None:
        return parse_view(view, (meta.height, meta.width), spec), f"--view {view}", scene
    if manifest is None or entry is None:
        raise IdmError(f"{sidecar}: initial_frame {meta.initial_frame}: no clip set records how it was framed "
                       f"(a `wm sim-clips` first frame has one in ../{CLIP_MANIFEST}); say how the dream was framed: "
                       f"--view {CENTRE} (a centred crop of the camera frame, dreamgen's default) or --view T,L,B,R "
                       "(fractions of the camera frame)")
    return _compose(manifest["framing"], manifest["size_hw"], (meta.height, meta.width)), \
        f"clip set {Path(meta.initial_frame).parent.parent / CLIP_MANIFEST}", scene


def parse_view(text: str, dream_hw: tuple[int, int], spec: Embodiment) -> FrameView:
    """`centre` (the camera frame centre-cropped to the dream's aspect ratio) or `top,left,bottom,right`."""
    if text == CENTRE:
        camera = next(iter(spec.cameras.values()))
        native = (camera.height, camera.width)
        return FrameView.of_crop(native, framing(native, dream_hw, 0.5).crop)
    try:
        top, left, bottom, right = (float(v) for v in text.split(","))
    except ValueError:
        raise IdmError(f"--view {text!r}: expected {CENTRE!r} or four fractions top,left,bottom,right "
                       "(e.g. 0,0.1875,1,0.8125)") from None
    return FrameView(top, left, bottom, right)  # it refuses an empty window


def _clip_entry(meta: DreamMeta) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The clip set manifest the dream's first frame belongs to, and the frame's clip entry (by sha256)."""
    frame = Path(meta.initial_frame)
    path = frame.parent.parent / CLIP_MANIFEST
    if frame.parent.name != FIRST_FRAMES or not path.is_file():
        return None, None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        entry = next((c for c in manifest["clips"] if c.get("first_frame_sha256") == meta.initial_frame_sha256), None)
        complete = {"source_hw", "crop_rows", "crop_cols"} <= set(manifest["framing"]) and "size_hw" in manifest
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, None
    return (manifest, entry) if complete else (None, None)


def _scene(meta: DreamMeta, entry: dict[str, Any] | None) -> Scene | None:
    if entry is None or "seed" not in entry:
        return None
    try:
        return Scene(int(entry["seed"]), task_for(meta.instruction).name)
    except UnknownInstruction:
        return None  # a scene of the sim, but an instruction no sim task checks


def _compose(clip_framing: dict[str, Any], image_hw: list[int], dream_hw: tuple[int, int]) -> FrameView:
    """The first frame's window in the camera frame, narrowed by `wm dream`'s own centred crop of it."""
    height, width = clip_framing["source_hw"]
    (r0, r1), (c0, c1) = clip_framing["crop_rows"], clip_framing["crop_cols"]
    ih, iw = image_hw
    d0, d1, e0, e1 = framing((ih, iw), dream_hw, 0.5).crop  # what Dreamer.render does to the first frame
    rows = (r1 - r0) / height
    cols = (c1 - c0) / width
    return FrameView(r0 / height + rows * d0 / ih, c0 / width + cols * e0 / iw,
                     r0 / height + rows * d1 / ih, c0 / width + cols * e1 / iw)

