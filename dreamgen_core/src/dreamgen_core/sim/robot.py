"""The simulated GR1 as the rest of the stack sees a robot: joints by name, position targets, a camera.

`SimRobot` owns one MuJoCo model and data. Targets arrive by joint name (as on /gr1/joint_command)
and are clipped to the joint's range; measured positions leave in the spec's layout order. Time is
simulation time only: the ROS node decides how it relates to the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from dreamgen_core.calibration.camera_info import CameraInfo, pinhole_from_fovy
from dreamgen_core.embodiment.spec import Embodiment
from dreamgen_core.sim.model import CUBE_RGBA, TARGET_RGBA, Scene, build_model, cube_body, target_body
from dreamgen_core.sim.task import DEFAULT_TASK, Layout, Task, TaskState, is_success, quat, sample_layout, vec3

# Start pose: forearms forward over the table's near edge, hands open; unlisted joints at 0.
HOME: dict[str, float] = {
    "left_shoulder_pitch_joint": -0.2, "left_shoulder_roll_joint": 0.15, "left_elbow_pitch_joint": -1.3,
    "right_shoulder_pitch_joint": -0.2, "right_shoulder_roll_joint": -0.15, "right_elbow_pitch_joint": -1.3,
}


@dataclass(frozen=True)
class CommandResult:
    """Names in a command that were not applied, for the caller to warn about."""

    unknown: tuple[str, ...]
    nonfinite: tuple[str, ...]


class SimRobot:
    """GR1 at the table; `reset(seed, task)` re-randomizes the scene and sets the episode's task."""

    def __init__(self, spec: Embodiment, seed: int = 0, scene: Scene = Scene(), task: Task = DEFAULT_TASK) -> None:
        self.spec = spec
        self.scene = scene
        self.model = build_model(spec, scene)
        self.data = mujoco.MjData(self.model)
        self.joint_names = spec.joint_names
        self._qadr = np.array([self.model.joint(n).qposadr[0] for n in self.joint_names])
        self._vadr = np.array([self.model.joint(n).dofadr[0] for n in self.joint_names])
        self._act = {n: self.model.actuator(n).id for n in self.joint_names}
        self._cube_q = {c: self.model.joint(cube_body(c)).qposadr[0] for c in CUBE_RGBA}
        self._cube_dof = {c: self.model.joint(cube_body(c)).dofadr[0] for c in CUBE_RGBA}
        self._target_mocap = {c: self.model.body(target_body(c)).mocapid[0] for c in TARGET_RGBA}
        self.camera_name, self.camera = next(iter(spec.cameras.items()))
        self.layout = sample_layout(seed, scene)
        self.task = task
        self.reset(seed, task)

    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    def reset(self, seed: int, task: Task = DEFAULT_TASK) -> None:
        """Robot at HOME holding it, at rest; cubes and targets where the seed puts them; `task` is the goal.

        Sim time carries on across resets: it stamps ROS messages, and ROS time must never go back.
        """
        self.layout = sample_layout(seed, self.scene)
        self.task = task
        now = self.data.time
        mujoco.mj_resetData(self.model, self.data)
        self.data.time = now
        home = np.array([HOME.get(n, 0.0) for n in self.joint_names])
        self.data.qpos[self._qadr] = home
        self.data.ctrl[[self._act[n] for n in self.joint_names]] = home
        self._place_objects(self.layout)
        mujoco.mj_forward(self.model, self.data)

    def _place_objects(self, layout: Layout) -> None:
        top = self.scene.table_top_z
        for colour, xy in layout.cubes.items():
            q = self._cube_q[colour]
            self.data.qpos[q:q + 7] = [*xy, top + self.scene.cube_half, 1, 0, 0, 0]
        for colour, xy in layout.targets.items():
            self.data.mocap_pos[self._target_mocap[colour]] = [*xy, top]

    def command(self, names: Sequence[str], positions: Sequence[float]) -> CommandResult:
        """Set position targets by joint name, clipped to each joint's range; bad entries are skipped."""
        unknown, nonfinite = [], []
        for name, value in zip(names, positions):
            act = self._act.get(name)
            if act is None:
                unknown.append(name)
            elif not np.isfinite(value):
                nonfinite.append(name)
            else:
                lo, hi = self.model.actuator_ctrlrange[act]
                self.data.ctrl[act] = min(max(float(value), lo), hi)
        return CommandResult(tuple(unknown), tuple(nonfinite))

    def agrees(self, names: Sequence[str], positions: Sequence[float], tolerance: float) -> bool:
        """Whether a command (by name) is within `tolerance` of the targets the robot holds now,
        every named joint known and finite."""
        for name, value in zip(names, positions):
            act = self._act.get(name)
            if act is None or not abs(float(value) - float(self.data.ctrl[act])) <= tolerance:
                return False
        return True

    def command_vector(self, targets: np.ndarray) -> None:
        """Targets in layout order (what the expert and replays produce)."""
        self.command(self.joint_names, targets.tolist())

    def step(self, n: int = 1) -> None:
        mujoco.mj_step(self.model, self.data, nstep=n)

    def positions(self) -> np.ndarray:
        """Measured joint positions in layout order (rad)."""
        return self.data.qpos[self._qadr].copy()

    def velocities(self) -> np.ndarray:
        return self.data.qvel[self._vadr].copy()

    def efforts(self) -> np.ndarray:
        return np.array([self.data.actuator_force[self._act[n]] for n in self.joint_names])

    def place_cube(self, colour: str, pos: Sequence[float], orientation: Sequence[float] = (1, 0, 0, 0)) -> None:
        """Teleport a cube (tests and scene setup); its velocity is zeroed."""
        q, dof = self._cube_q[colour], self._cube_dof[colour]
        self.data.qpos[q:q + 7] = [*pos, *orientation]
        self.data.qvel[dof:dof + 6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def cube_pose(self, colour: str) -> np.ndarray:
        """Position and quaternion (w-x-y-z) of a cube, 7 values."""
        q = self._cube_q[colour]
        return self.data.qpos[q:q + 7].copy()

    def task_state(self, task: Task | None = None) -> TaskState:
        """Ground truth of `task` (default: the episode's) in the scene as it is now."""
        task = task or self.task
        cube = self.cube_pose(task.cube)
        target = self.data.mocap_pos[self._target_mocap[task.target]]
        return TaskState(task.instruction, self.layout.seed, self.time, vec3(cube[:3]), quat(cube[3:]), vec3(target),
                         is_success(self.scene, cube[:3], cube[3:], target))

    def camera_info(self, width: int, height: int) -> CameraInfo:
        """Ideal intrinsics of the head camera at a resolution, from the model's field of view."""
        fovy = float(self.model.cam_fovy[self.model.camera(self.camera_name).id])
        return pinhole_from_fovy(width, height, fovy, self.camera_name)

    def renderer(self, width: int, height: int) -> HeadCamera:
        return HeadCamera(self, width, height)


class HeadCamera:
    """Offscreen renderer of the head camera at one resolution (rgb8, H×W×3)."""

    def __init__(self, robot: SimRobot, width: int, height: int) -> None:
        self.robot = robot
        self.width, self.height = width, height
        self._renderer = mujoco.Renderer(robot.model, height=height, width=width)

    def render(self) -> np.ndarray:
        self._renderer.update_scene(self.robot.data, camera=self.robot.camera_name)
        return self._renderer.render()

    def close(self) -> None:
        self._renderer.close()

