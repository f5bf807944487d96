"""The task family of the simulated GR1: push one of two cubes onto one of two targets, right hand.

One scene holds every object: a red and a blue cube, a green and a yellow target, always all on the
table, so only the instruction says which cube goes where. The family is the 2×2 grid of
(cube, target) pairs in `TASKS`, the one registry of tasks; an episode's task comes from its
instruction (`task_for`). The grid is what DreamGen needs downstream: record demos of some pairs,
dream the others from the same scenes.

Pushes, not pick-and-place: the scripted expert's grasps with the 6-DoF hand's box-fitted fingers
knocked objects over too often to make reliable demonstrations, and pushing is what it does reliably.

A seed fixes where the cubes and targets start, for every task alike, so an episode is reproducible
from its seed and instruction, and one seed's first frame serves every task. Instructions follow the
DreamGen prompt convention. `TaskState` is what the sim publishes on /sim/task (JSON) and what the
scripted expert plans from: ground truth, never seen by a policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from dreamgen_core.config import ConfigError
from dreamgen_core.sim.model import CUBE_RGBA, TARGET_RGBA, Scene


@dataclass(frozen=True)
class Task:
    """Push the `cube`-coloured cube onto the `target`-coloured target."""

    cube: str
    target: str

    @property
    def name(self) -> str:
        return f"{self.cube}_cube_to_{self.target}_target"

    @property
    def instruction(self) -> str:
        return f"Use the right hand to push the {self.cube} cube from the table onto the {self.target} target."


TASKS: tuple[Task, ...] = tuple(Task(cube, target) for cube in CUBE_RGBA for target in TARGET_RGBA)
DEFAULT_TASK = TASKS[0]  # red cube onto the green target: the original single task


class UnknownInstruction(ConfigError):
    """An instruction names no task of the family; the message lists the known ones."""

    def __init__(self, instruction: str) -> None:
        known = "; ".join(repr(t.instruction) for t in TASKS)
        super().__init__("simulated GR1 tasks", "instruction", instruction, f"not one of the family: {known}")


def _normalized(instruction: str) -> str:
    return " ".join(instruction.lower().split()).rstrip(".")


def task_for(instruction: str) -> Task:
    """The task an instruction asks for (case, spacing and the final full stop do not matter)."""
    for task in TASKS:
        if _normalized(task.instruction) == _normalized(instruction):
            return task
    raise UnknownInstruction(instruction)


def tasks_named(names: Iterable[str]) -> tuple[Task, ...]:
    """The tasks of these names (e.g. red_cube_to_green_target), each once; unknown names list the known ones."""
    known = {t.name: t for t in TASKS}
    unique = list(dict.fromkeys(names))
    for name in unique:
        if name not in known:
            raise ConfigError("--tasks", "tasks", name, f"unknown task; known: all, {', '.join(known)}")
    return tuple(known[n] for n in unique)


def parse_tasks(text: str) -> tuple[Task, ...]:
    """`all` or comma-separated task names."""
    if text == "all":
        return TASKS
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--tasks", "tasks", text, "names no task")
    return tasks_named(names)


# Sampling boxes (x, y) in the base frame, inside the right arm's comfortable workspace: cubes on
# the right, targets towards the middle, so every push runs leftwards, away from the pushing arm.
CUBE_X, CUBE_Y = (0.27, 0.41), (-0.25, -0.17)
TARGET_X, TARGET_Y = (0.29, 0.43), (-0.06, 0.03)
MIN_SEPARATION = 0.14   # every cube this far from every target: no task starts solved
TARGET_GAP = 0.01       # between the two targets' rims
PATH_CLEARANCE = 0.085  # the other cube's centre from every push line: no task disturbs it
HAND_ROOM = 0.08        # room kept clear behind each cube, where the pushing hand comes down

SUCCESS_HEIGHT_TOL = 0.01  # cube resting on the table, not lifted or fallen off
SUCCESS_TILT_RAD = 0.3     # and not tipped over


@dataclass(frozen=True)
class Layout:
    """Initial object positions (x, y) of one seeded episode, by colour."""

    seed: int
    cubes: dict[str, tuple[float, float]]
    targets: dict[str, tuple[float, float]]


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    s = float(np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + s * (b - a))))


def is_valid(layout: Layout, scene: Scene = Scene()) -> bool:
    """Targets apart, no cube near a target, and each task's push line clear of the other cube."""
    cubes = {c: np.asarray(xy) for c, xy in layout.cubes.items()}
    targets = [np.asarray(xy) for xy in layout.targets.values()]
    if np.linalg.norm(targets[0] - targets[1]) < 2 * scene.target_radius + TARGET_GAP:
        return False
    for task in TASKS:
        cube, goal = cubes[task.cube], np.asarray(layout.targets[task.target])
        if np.linalg.norm(goal - cube) < MIN_SEPARATION:
            return False
        start = cube - HAND_ROOM * (goal - cube) / np.linalg.norm(goal - cube)
        other = next(xy for c, xy in cubes.items() if c != task.cube)
        if _segment_distance(other, start, goal) < PATH_CLEARANCE:
            return False
    return True


def sample_layout(seed: int, scene: Scene = Scene()) -> Layout:
    """The seed's layout: uniform in the boxes, redrawn until `is_valid`."""
    rng = np.random.default_rng(seed)
    while True:
        layout = Layout(seed, {c: (float(rng.uniform(*CUBE_X)), float(rng.uniform(*CUBE_Y))) for c in CUBE_RGBA},
                        {t: (float(rng.uniform(*TARGET_X)), float(rng.uniform(*TARGET_Y))) for t in TARGET_RGBA})
        if is_valid(layout, scene):
            return layout


Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]


def vec3(values: Iterable[float]) -> Vec3:
    x, y, z = (float(v) for v in values)
    return x, y, z


def quat(values: Iterable[float]) -> Quat:
    w, x, y, z = (float(v) for v in values)
    return w, x, y, z


@dataclass(frozen=True)
class TaskState:
    """Ground truth of one task at one instant: its cube and target (metres, quaternions w-x-y-z)."""

    instruction: str
    seed: int
    time: float
    cube_pos: Vec3
    cube_quat: Quat
    target_pos: Vec3
    success: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TaskState:
        raw = json.loads(text)
        return cls(str(raw["instruction"]), int(raw["seed"]), float(raw["time"]), vec3(raw["cube_pos"]),
                   quat(raw["cube_quat"]), vec3(raw["target_pos"]), bool(raw["success"]))


def is_success(scene: Scene, cube_pos: np.ndarray, cube_quat: np.ndarray, target_pos: np.ndarray) -> bool:
    """The cube rests flat on the table with its centre inside the target."""
    inside = np.hypot(*(cube_pos[:2] - target_pos[:2])) < scene.target_radius
    resting = abs(cube_pos[2] - scene.table_top_z - scene.cube_half) < SUCCESS_HEIGHT_TOL
    _, x, y, _ = cube_quat / np.linalg.norm(cube_quat)
    tilt = np.arccos(np.clip(1.0 - 2.0 * (x * x + y * y), -1.0, 1.0))  # angle of the cube's z axis from vertical
    return bool(inside and resting and tilt < SUCCESS_TILT_RAD)
