"""A scripted expert that pushes a task's cube onto its target: the stand-in for a human teleoperator.

It plans a few Cartesian waypoints for the right hand's push point from the task's ground truth
(`TaskState`): a still moment, then behind the cube, through it to the target, back and up. It
follows them with damped-least-squares IK on MuJoCo Jacobians of its own copy of the model; on the
way to the cube the open hand's palm turns smoothly to face the push direction. It outputs absolute
position targets for every embodiment joint in layout order; joints it does not use are held where
they were at the start. Ground truth in, joint targets out: it runs the same inside a ROS node or a
plain loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import mujoco
import numpy as np

from dreamgen_core.embodiment.spec import Embodiment
from dreamgen_core.sim.model import PUSH_SITE, Scene, build_model
from dreamgen_core.sim.task import TaskState, Vec3, vec3

ARM = ("right_shoulder_pitch_joint", "right_shoulder_roll_joint", "right_shoulder_yaw_joint",
       "right_elbow_pitch_joint", "right_wrist_yaw_joint", "right_wrist_roll_joint", "right_wrist_pitch_joint")
# Hand orientation while pushing: fingers down and a little forward, palm normal along the push.
HAND_PITCH_RAD = 0.3
HAND = ("R_pinky_proximal_joint", "R_ring_proximal_joint", "R_middle_proximal_joint", "R_index_proximal_joint",
        "R_thumb_proximal_pitch_joint", "R_thumb_proximal_yaw_joint")
# Before moving, hold the start pose this long: episodes begin with a still robot and camera, and
# an operator (or recorder) starting right after a reset records the scene before the arm enters it.
SETTLE_S = 1.0
# Push geometry (m): start this far behind the cube's face.
APPROACH_GAP = 0.04
PUSH_HEIGHT = 0.025  # push point above the table: low on the cube, so it slides rather than tips
CLEARANCE = 0.10     # travel height above the cube top between pushes
ORIENTATION_WEIGHT = 0.3
DAMPING = 0.05
IK_ITERATIONS = 8


class Phase(str, Enum):
    IDLE = "idle"
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class Waypoint:
    """Reach `pos` (push point, base frame) after `duration` s; `turn`: the hand turns to push meanwhile."""

    duration: float
    pos: Vec3
    turn: bool = False


@dataclass(frozen=True)
class Plan:
    waypoints: tuple[Waypoint, ...]
    yaw: float  # hand rotation about the vertical that turns the palm (+y at zero yaw) along the push


def plan(task: TaskState, scene: Scene, start: Vec3) -> Plan:
    """Hold at `start`, above the cube's far side, down behind it, push its centre to the target,
    back off and up."""
    cube = np.asarray(task.cube_pos[:2])
    goal = np.asarray(task.target_pos[:2])
    d = (goal - cube) / np.linalg.norm(goal - cube)
    z = scene.table_top_z + PUSH_HEIGHT
    high = scene.table_top_z + 2 * scene.cube_half + CLEARANCE
    behind = cube - d * (scene.cube_half + APPROACH_GAP)
    end = goal - d * scene.cube_half  # the cube's centre ends on the target's
    back = end - d * APPROACH_GAP
    return Plan((Waypoint(SETTLE_S, start), Waypoint(1.5, (*behind, high), turn=True),
                 Waypoint(1.0, (*behind, z)), Waypoint(0.5 + 8.0 * float(np.linalg.norm(end - behind)), (*end, z)),
                 Waypoint(0.6, (*back, z)), Waypoint(1.0, (*back, high))),
                yaw=float(np.arctan2(d[1], d[0]) - np.pi / 2))


def _smooth(s: float) -> float:
    s = min(max(s, 0.0), 1.0)
    return s * s * (3.0 - 2.0 * s)


class ScriptedExpert:
    """Call `start(task, measured, t)` once per episode, then `act(t)` at the control rate."""

    def __init__(self, spec: Embodiment, scene: Scene = Scene()) -> None:
        self.spec = spec
        self.scene = scene
        self.model = build_model(spec, scene)
        self.data = mujoco.MjData(self.model)
        self.phase = Phase.IDLE
        self.seed: int | None = None
        self._qadr = np.array([self.model.joint(n).qposadr[0] for n in spec.joint_names])
        self._arm_slots = np.array([spec.slot(n) for n in ARM])
        self._arm_dofs = np.array([self.model.joint(n).dofadr[0] for n in ARM])
        lo = np.array([spec.joints[n].lower + spec.margin(n) for n in ARM])
        hi = np.array([spec.joints[n].upper - spec.margin(n) for n in ARM])
        self._arm_limits = (lo, hi)
        self._hand_slots = np.array([spec.slot(n) for n in HAND])
        self._site = self.model.site(PUSH_SITE).id
        self._rest_rot = self._rest_rotation()
        self._start_quat = np.zeros(4)
        self._turn = np.zeros(3)  # rotation vector from the start orientation to the pushing one
        self._targets = np.zeros(spec.dim)
        self._waypoints: tuple[Waypoint, ...] = ()
        self._t0 = 0.0
        self._start_pos = np.zeros(3)

    def _rest_rotation(self) -> np.ndarray:
        """Push-site orientation of the zero pose: fingers down, palm facing the robot's left (+y)."""
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xmat[self._site].reshape(3, 3).copy()

    def _hand_rotation(self, yaw: float) -> np.ndarray:
        """The rest orientation pitched fingertips-forward, then turned by `yaw` about the vertical."""
        c, s = np.cos(HAND_PITCH_RAD), np.sin(HAND_PITCH_RAD)
        pitch = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
        c, s = np.cos(yaw), np.sin(yaw)
        turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return turn @ pitch @ self._rest_rot

    def _forward(self, q: np.ndarray) -> None:
        self.data.qpos[self._qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)

    def start(self, task: TaskState, measured: np.ndarray, t: float) -> None:
        """Begin an attempt from the measured pose (layout order) at time `t`."""
        self._targets = measured.copy()
        self._targets[self._hand_slots] = 0.0  # open hand: a flat paddle
        self._forward(self._targets)
        self._start_pos = self.data.site_xpos[self._site].copy()
        mujoco.mju_mat2Quat(self._start_quat, self.data.site_xmat[self._site])
        p = plan(task, self.scene, vec3(self._start_pos))
        push_quat = np.zeros(4)
        mujoco.mju_mat2Quat(push_quat, self._hand_rotation(p.yaw).ravel())
        mujoco.mju_subQuat(self._turn, push_quat, self._start_quat)
        self._waypoints = p.waypoints
        self._t0 = t
        self.seed = task.seed
        self.phase = Phase.RUNNING

    @property
    def duration(self) -> float:
        return sum(w.duration for w in self._waypoints)

    def reference(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Push-point position and hand orientation (quaternion) at time `t` of the plan, smooth
        between waypoints; DONE past the end."""
        elapsed = t - self._t0
        pos, turned = self._start_pos, 0.0
        for w in self._waypoints:
            if elapsed < w.duration:
                s = _smooth(elapsed / w.duration)
                return pos + s * (np.asarray(w.pos) - pos), self._orientation(s if w.turn else turned)
            elapsed -= w.duration
            pos, turned = np.asarray(w.pos), 1.0 if w.turn else turned
        self.phase = Phase.DONE
        return pos, self._orientation(turned)

    def _orientation(self, turned: float) -> np.ndarray:
        """The hand's orientation `turned` (0..1) of the way from its start to the pushing one."""
        quat = self._start_quat.copy()
        mujoco.mju_quatIntegrate(quat, self._turn, turned)
        return quat

    def _ik(self, q: np.ndarray, goal: np.ndarray, target_quat: np.ndarray) -> np.ndarray:
        """Arm joints that bring the push site to `goal` in orientation `target_quat`."""
        q = q.copy()
        jacp = np.zeros((3, self.model.nv))
        jacr = np.zeros((3, self.model.nv))
        err_rot = np.zeros(3)
        quat = np.zeros(4)
        for _ in range(IK_ITERATIONS):
            self._forward(q)
            err_pos = goal - self.data.site_xpos[self._site]
            mujoco.mju_mat2Quat(quat, self.data.site_xmat[self._site])
            mujoco.mju_subQuat(err_rot, target_quat, quat)
            err_rot = self.data.site_xmat[self._site].reshape(3, 3) @ err_rot  # local → world
            mujoco.mj_jacSite(self.model, self.data, jacp, jacr, self._site)
            jac = np.vstack([jacp[:, self._arm_dofs], ORIENTATION_WEIGHT * jacr[:, self._arm_dofs]])
            err = np.concatenate([err_pos, ORIENTATION_WEIGHT * err_rot])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + DAMPING ** 2 * np.eye(6), err)
            q[self._arm_slots] = np.clip(q[self._arm_slots] + dq, *self._arm_limits)
        return q

    def act(self, t: float) -> np.ndarray:
        """Position targets for every joint (layout order) at time `t`."""
        if self.phase is Phase.IDLE:
            raise RuntimeError("start() the expert on a task before act()")
        self._targets = self._ik(self._targets, *self.reference(t))
        return self._targets.copy()


def run_episode(robot, expert: ScriptedExpert, control_hz: float, settle_s: float = 1.0,
                observe: Callable[[], None] = lambda: None,
                command: Callable[[np.ndarray], None] = lambda _: None) -> bool:
    """Closed loop without ROS: the expert drives `robot` (a SimRobot) until done; returns success.
    `observe` runs at the start and after every control period, settling included (e.g. to film it);
    `command` gets each target vector the expert sends, right after the `observe` of its period
    (while settling none is sent: the robot holds the last one, as the teleop node keeps sending it)."""
    steps = max(1, round(1.0 / (control_hz * robot.timestep)))
    expert.start(robot.task_state(), robot.positions(), robot.time)
    observe()
    while expert.phase is not Phase.DONE:
        targets = expert.act(robot.time)
        command(targets)
        robot.command_vector(targets)
        robot.step(steps)
        observe()
    for _ in range(round(settle_s * control_hz)):
        robot.step(steps)
        observe()
    return robot.task_state().success
