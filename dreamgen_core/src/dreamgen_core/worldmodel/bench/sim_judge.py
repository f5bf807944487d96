"""The `sim` judge: DreamGen Bench for our own sim tasks, decided from the video's pixels, offline.

The instruction names a task of the family (`sim.task.task_for`): a cube and a target. Objects are
found by colour (`colours`); the targets' discs are measured in the first frame (the real,
conditioning frame; later a pushed cube covers part of its target).

Instruction following (0/1): where the named cube was last seen, its centre lies on the named
target's disc, and where the other cube was last seen it lies on no target. "Last seen", because
the arm hides the cubes at the end of many real episodes (it rests above the target it pushed to).

Physics alignment (0/1): both cubes persist (each is in the first frame, and in the last frame it
is visible or the table does not show where it was last seen: hidden by the arm, not vanished; the
arm hides cubes for moments during real pushes, which 64 px cannot tell from flicker, so only the
end counts); no cube jumps further between two sightings in full view than a push could move it in
that time (`MAX_SPEED`; a half-hidden cube's centroid is biased); and not both cubes moved (one
hand, one push). Thresholds scale with the frame width, so 32-px and 480-px videos are judged alike.

Checked on 78 expert clips of held-out seeds 1000:1020 (64 px): instruction following agreed with
the ground truth in all 390 judgements (own task 1, the other three 0, a still copy 0); physics
passed 75 of the 78 real clips: in one the head camera itself jolts after the push (both cubes
move in the image), in two the hand hides a cube on its target at the end and the target's blurred
rim reads as table. A strict judge.
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamgen_core.sim.model import CUBE_RGBA, TARGET_RGBA
from dreamgen_core.sim.task import task_for
from dreamgen_core.worldmodel.bench.colours import Sighting, mask, shows_background, sightings, to_hsv
from dreamgen_core.worldmodel.bench.judge import Criterion, DreamJudge, Judgement, Video

MIN_AREA = 1 / 1024     # of the frame: fewer pixels of a colour than this is "not seen" (4 px at 64x64)
ON_TARGET_SLACK = 0.03  # of the width, beyond the target's radius (blur and chroma subsampling)
MAX_SPEED = 0.2         # widths per second a pushed cube may move (the expert pushes at about 0.12)
JUMP_SLACK = 0.06       # widths: centroid noise when a cube is half hidden
MOVED = 0.08            # widths: a cube displaced further than this has moved
IN_FULL_VIEW = 0.75     # of a cube's first-frame area: a smaller sighting is partly hidden, its centroid biased


@dataclass(frozen=True)
class Track:
    """One object over a video: its sightings, and whether it is gone at the end (not visible in the
    last frame, and the table shows where it was last seen)."""

    seen: list[tuple[int, Sighting]]     # (frame index, sighting), visible frames only
    clear: list[tuple[int, Sighting]]    # the sightings in full view (centroids to measure motion by)
    gone_at_end: bool

    @property
    def first(self) -> Sighting | None:
        return self.seen[0][1] if self.seen else None

    @property
    def last(self) -> Sighting | None:
        return self.seen[-1][1] if self.seen else None


class SimJudge(DreamJudge):
    def judge(self, video: Video, instruction: str) -> Judgement:
        task = task_for(instruction)
        frames = video.frames
        _, height, width, _ = frames.shape
        hsv = to_hsv(frames)
        min_area = max(2, round(MIN_AREA * height * width))
        cubes = {c: _track(hsv, c, min_area, max(1, width // 32)) for c in CUBE_RGBA}
        targets = {t: sightings(mask(hsv[:1], t), min_area)[0] for t in TARGET_RGBA}
        follows, why = _follows(task.cube, task.target, cubes, targets, ON_TARGET_SLACK * width)
        physical, why_not = _physical(cubes, video.fps, width)
        return Judgement({Criterion.INSTRUCTION_FOLLOWING: float(follows), Criterion.PHYSICS_ALIGNMENT: float(physical)},
                         "; ".join(why + why_not))


def _track(hsv, colour: str, min_area: int, radius: int) -> Track:
    found = sightings(mask(hsv, colour), min_area)
    seen = [(index, sighting) for index, sighting in enumerate(found) if sighting.area]
    clear = [(i, s) for i, s in seen if s.area >= IN_FULL_VIEW * seen[0][1].area]
    gone = bool(seen) and not found[-1].area and shows_background(hsv[-1], seen[-1][1], radius)
    return Track(seen, clear, gone)


def _on(cube: Sighting, target: Sighting, slack: float) -> bool:
    radius = (target.area / 3.14159) ** 0.5
    return cube.distance(target) <= radius + slack


def _follows(cube: str, target: str, cubes: dict[str, Track], targets: dict[str, Sighting],
             slack: float) -> tuple[bool, list[str]]:
    why = []
    named, goal = cubes[cube].last, targets[target]
    if not goal.area:
        why.append(f"the {target} target is not visible in the first frame")
    elif named is None:
        why.append(f"the {cube} cube is never visible")
    elif not _on(named, goal, slack):
        why.append(f"the {cube} cube was last seen {named.distance(goal):.1f} px from the {target} target's centre")
    for other, track in cubes.items():
        last = track.last
        if other != cube and last is not None:
            why += [f"the {other} cube ended on the {t} target" for t, disc in targets.items()
                    if disc.area and _on(last, disc, slack)]
    return not why, why


def _physical(cubes: dict[str, Track], fps: float, width: int) -> tuple[bool, list[str]]:
    why = []
    moved = []
    for colour, track in cubes.items():
        if not track.seen or track.seen[0][0] != 0:
            why.append(f"the {colour} cube is missing from the first frame")
        if track.gone_at_end:
            why.append(f"the {colour} cube is gone at the end (last seen in frame {track.seen[-1][0]}, "
                       "the table shows there)")
        for (i, a), (j, b) in zip(track.clear, track.clear[1:]):
            limit = (MAX_SPEED * (j - i) / fps + JUMP_SLACK) * width
            if a.distance(b) > limit:
                why.append(f"the {colour} cube jumped {a.distance(b):.1f} px between frames {i} and {j} "
                           f"(at most {limit:.1f} px)")
                break
        if track.clear and track.clear[0][1].distance(track.clear[-1][1]) > MOVED * width:
            moved.append(colour)
    if len(moved) > 1:
        why.append(f"both cubes moved ({', '.join(moved)}): one hand pushes one cube")
    return not why, why
