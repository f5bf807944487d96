"""The table-top task of the simulated GR1: push the red cube onto the green target with the right hand.

A push, not a pick-and-place: the scripted expert's grasps with the 6-DoF hand's box-fitted fingers
knocked objects over too often to make reliable demonstrations, and pushing is what it does reliably.

A seed fixes where the cube and the target start, so an episode is reproducible from its seed. The
instruction follows the DreamGen prompt convention. `TaskState` is what the sim publishes on
/sim/task (JSON) and what the scripted expert plans from: ground truth, never seen by a policy.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from dreamgen_core.sim.model import Scene

INSTRUCTION = "Use the right hand to push the red cube from the table onto the green target."

# Sampling boxes (x, y) in the base frame, inside the right arm's comfortable workspace.
CUBE_X, CUBE_Y = (0.30, 0.38), (-0.24, -0.18)
TARGET_X, TARGET_Y = (0.30, 0.40), (-0.06, 0.0)
MIN_SEPARATION = 0.14

SUCCESS_HEIGHT_TOL = 0.01  # cube resting on the table, not lifted or fallen off
SUCCESS_TILT_RAD = 0.3     # and not tipped over


@dataclass(frozen=True)
class Layout:
    """Initial object positions (x, y) of one seeded episode."""

    seed: int
    cube_xy: tuple[float, float]
    target_xy: tuple[float, float]


def sample_layout(seed: int) -> Layout:
    """The seed's layout: uniform in the boxes, cube and target at least MIN_SEPARATION apart."""
    rng = np.random.default_rng(seed)
    while True:
        cube = (float(rng.uniform(*CUBE_X)), float(rng.uniform(*CUBE_Y)))
        target = (float(rng.uniform(*TARGET_X)), float(rng.uniform(*TARGET_Y)))
        if np.hypot(cube[0] - target[0], cube[1] - target[1]) >= MIN_SEPARATION:
            return Layout(seed, cube, target)


@dataclass(frozen=True)
class TaskState:
    """Ground truth of the task at one instant (positions in metres, quaternions w-x-y-z)."""

    instruction: str
    seed: int
    time: float
    cube_pos: tuple[float, float, float]
    cube_quat: tuple[float, float, float, float]
    target_pos: tuple[float, float, float]
    success: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TaskState:
        raw = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def is_success(scene: Scene, cube_pos: np.ndarray, cube_quat: np.ndarray, target_pos: np.ndarray) -> bool:
    """The cube rests flat on the table with its centre inside the target."""
    inside = np.hypot(*(cube_pos[:2] - target_pos[:2])) < scene.target_radius
    resting = abs(cube_pos[2] - scene.table_top_z - scene.cube_half) < SUCCESS_HEIGHT_TOL
    _, x, y, _ = cube_quat / np.linalg.norm(cube_quat)
    tilt = np.arccos(np.clip(1.0 - 2.0 * (x * x + y * y), -1.0, 1.0))  # angle of the cube's z axis from vertical
    return bool(inside and resting and tilt < SUCCESS_TILT_RAD)
