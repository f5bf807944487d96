"""The simulated GR1 as a MuJoCo model: the manufacturer's URDF, cheap visuals, actuators, a table scene.

MuJoCo loads the URDF itself (kinematics, inertias, collision shapes, the hands' mimic joints as
joint equalities), so the sim and the real robot share one description. The URDF's visual meshes
(~680k faces) render at a few frames per second on a CPU, so each visual mesh is replaced by one
box fitted to the mesh's bounds in its link frame; the physics keeps the URDF's collision shapes.
The base is fixed (upper-body tasks; the legs are held by their actuators) and gravity is
compensated on the robot's bodies, as the real robot's controller does, so position targets are met.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from dreamgen_core.embodiment.assets import urdf_path
from dreamgen_core.embodiment.spec import Embodiment

VISUAL_PREFIX = "visual/"
VISUAL_GROUP = 2     # rendered by default
COLLISION_GROUP = 3  # hidden by default: the URDF's collision shapes (hand meshes would render slowly)
CAMERA_FOVY_DEG = 60.0
CAMERA_BODY = "head_yaw_link"
PUSH_BODY = "right_hand_pitch_link"
PUSH_SITE = "right_push"
# The scene's objects by colour: the task family (sim/task.py) names them in its instructions.
CUBE_RGBA: dict[str, tuple[float, float, float, float]] = {"red": (0.85, 0.1, 0.1, 1), "blue": (0.1, 0.25, 0.85, 1)}
TARGET_RGBA: dict[str, tuple[float, float, float, float]] = {"green": (0.2, 0.7, 0.3, 1),
                                                             "yellow": (0.95, 0.8, 0.1, 1)}


def cube_body(colour: str) -> str:
    """Name of a cube's body and free joint in the model."""
    return f"{colour}_cube"


def target_body(colour: str) -> str:
    """Name of a target's (mocap) body in the model."""
    return f"{colour}_target"


@dataclass(frozen=True)
class Scene:
    """Table-top geometry in the robot's base frame (x forward, y left, z up; pelvis at the origin)."""

    floor_z: float = -0.93
    table_top_z: float = -0.10
    table_center_xy: tuple[float, float] = (0.47, -0.05)
    table_half_xy: tuple[float, float] = (0.22, 0.45)
    cube_half: float = 0.025
    cube_mass: float = 0.1
    target_radius: float = 0.06
    # Head camera: on the head's last link, in front of the face, pitched down at the table.
    camera_pos: tuple[float, float, float] = (0.145, 0.0, 0.09)
    camera_pitch_deg: float = 60.0
    # Where the right hand pushes, in its wrist (right_hand_pitch_link) frame: on the palm side (+y) of
    # the straight fingers, near their tips; open fingers make a flat paddle there.
    push_site: tuple[float, float, float] = (0.0, 0.025, -0.185)


def _rpy_matrix(rpy: np.ndarray) -> np.ndarray:
    """URDF fixed-axis roll-pitch-yaw → rotation matrix (Rz·Ry·Rx)."""
    (cr, cp, cy), (sr, sp, sy) = np.cos(rpy), np.sin(rpy)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


@functools.cache
def stl_bounds(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) corner of a binary STL's vertices, read directly: the meshes never enter the model."""
    raw = path.read_bytes()
    count = int(np.frombuffer(raw, dtype="<u4", count=1, offset=80)[0])
    record = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    if 84 + count * record.itemsize != len(raw):
        raise ValueError(f"{path}: not a binary STL ({len(raw)} bytes for {count} triangles)")
    v = np.frombuffer(raw, dtype=record, count=count, offset=84)["v"].reshape(-1, 3)
    return v.min(axis=0).astype(np.float64), v.max(axis=0).astype(np.float64)


def _floats(text: str | None, default: str) -> np.ndarray:
    return np.array((text or default).split(), dtype=np.float64)


def boxed_urdf(urdf: Path) -> tuple[str, dict[str, tuple[float, ...]]]:
    """The URDF with every visual mesh turned into a collision-free box named `visual/<link>/<i>`.

    Returned as text for MjSpec (which drops URDF visuals) plus each box's colour. Boxes go in as
    URDF collisions so MuJoCo applies its own fixed-link fusing to them; the caller disables their
    contacts. Mesh paths are made absolute so the text loads from anywhere.
    """
    root = ET.parse(urdf).getroot()
    colours: dict[str, tuple[float, ...]] = {}
    for link in root.iter("link"):
        for i, visual in enumerate(link.findall("visual")):
            mesh = visual.find("geometry/mesh")
            if mesh is None:
                continue
            lo, hi = stl_bounds((urdf.parent / mesh.get("filename", "")).resolve())
            scale = _floats(mesh.get("scale"), "1 1 1")
            origin = visual.find("origin")
            xyz = _floats(None if origin is None else origin.get("xyz"), "0 0 0")
            rpy = _floats(None if origin is None else origin.get("rpy"), "0 0 0")
            centre = xyz + _rpy_matrix(rpy) @ ((lo + hi) / 2 * scale)
            name = f"{VISUAL_PREFIX}{link.get('name')}/{i}"
            colour = visual.find("material/color")
            colours[name] = tuple(_floats(None if colour is None else colour.get("rgba"), "0.75 0.75 0.75 1"))
            link.remove(visual)
            box = ET.SubElement(link, "collision", name=name)
            ET.SubElement(box, "origin", xyz=" ".join(map(str, centre)), rpy=" ".join(map(str, rpy)))
            ET.SubElement(ET.SubElement(box, "geometry"), "box", size=" ".join(map(str, (hi - lo) * scale)))
    for mesh in root.iter("mesh"):
        mesh.set("filename", str((urdf.parent / mesh.get("filename", "")).resolve()))
    return ET.tostring(root, encoding="unicode"), colours


def _gain(spec: Embodiment, joint: str) -> tuple[float, float, float]:
    """(kp, kv, force limit) of a joint's position servo, scaled by its effort limit.

    Hands have no effort in the URDF: a small servo with a ~2 N·m grip is enough for light objects.
    """
    effort = spec.joints[joint].effort
    if effort is None:
        return 4.0, 0.1, 2.0
    return 10.0 * effort, 0.6 * effort ** 0.5 + 0.5, effort


def _look_quat(pitch_deg: float) -> np.ndarray:
    """Camera orientation looking forward (+x) and `pitch_deg` down; image right is the robot's right."""
    p = np.radians(pitch_deg)
    x = np.array([0.0, -1.0, 0.0])
    z = np.array([-np.cos(p), 0.0, np.sin(p)])  # MuJoCo cameras look along their -z
    y = np.cross(z, x)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.column_stack([x, y, z]).ravel())
    return quat


def _add_robot_details(mj: mujoco.MjSpec, spec: Embodiment, colours: dict[str, tuple[float, ...]]) -> None:
    for geom in mj.geoms:
        if geom.name.startswith(VISUAL_PREFIX):
            geom.contype, geom.conaffinity, geom.group = 0, 0, VISUAL_GROUP
            geom.rgba = colours[geom.name]
            geom.mass = 0.0
        else:
            geom.group = COLLISION_GROUP
            geom.friction = [1.5, 0.02, 0.002]
    for body in mj.bodies:
        if body.name != "world":
            body.gravcomp = 1.0
    for joint in mj.joints:
        joint.armature = 0.01 if joint.name in spec.joints and spec.joints[joint.name].effort else 0.001
        joint.damping = [0.05, 0.0, 0.0]  # linear coefficient; the others are nonlinear terms
    for name in spec.joint_names:
        kp, kv, force = _gain(spec, name)
        j = spec.joints[name]
        act = mj.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=kp, kv=kv)
        act.ctrlrange = [j.lower, j.upper]
        act.forcerange = [-force, force]
        act.ctrllimited = act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE


def _add_scene(mj: mujoco.MjSpec, spec: Embodiment, scene: Scene) -> None:
    world = mj.worldbody
    mj.option.timestep = 0.002
    mj.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    mj.option.impratio = 10.0
    world.add_light(pos=[0.6, 0.0, 1.5], dir=[0.0, 0.0, -1.0], diffuse=[0.7, 0.7, 0.7], castshadow=False)
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1],
                   pos=[0, 0, scene.floor_z], rgba=[0.35, 0.37, 0.4, 1])
    hx, hy = scene.table_half_xy
    thickness = 0.03
    top = scene.table_top_z
    world.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=[hx, hy, thickness / 2],
                   pos=[*scene.table_center_xy, top - thickness / 2], rgba=[0.55, 0.4, 0.28, 1],
                   friction=[1.0, 0.005, 0.0001])
    leg = (top - thickness - scene.floor_z) / 2
    cx, cy = scene.table_center_xy
    for sx in (-1, 1):
        for sy in (-1, 1):
            world.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.02, 0.02, leg], contype=0, conaffinity=0,
                           pos=[cx + sx * (hx - 0.03), cy + sy * (hy - 0.03), scene.floor_z + leg],
                           rgba=[0.45, 0.32, 0.22, 1])
    # Targets are flat mats flush with the table, drawn but not collided with: pushing stays planar.
    # Every cube and target is always on the table (placed by the task's layout at reset), so an
    # instruction is needed to know which cube goes where.
    for colour, rgba in TARGET_RGBA.items():
        target = world.add_body(name=target_body(colour), mocap=True, pos=[cx, cy, top + 0.0005])
        target.add_geom(name=target_body(colour), type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                        size=[scene.target_radius, 0.0005, 0], rgba=list(rgba), contype=0, conaffinity=0)
    for colour, rgba in CUBE_RGBA.items():
        cube = world.add_body(name=cube_body(colour), pos=[cx, cy, top + scene.cube_half])
        cube.add_freejoint(name=cube_body(colour))
        cube.add_geom(name=cube_body(colour), type=mujoco.mjtGeom.mjGEOM_BOX, size=[scene.cube_half] * 3,
                      mass=scene.cube_mass, rgba=list(rgba), friction=[0.6, 0.005, 0.0001], condim=4)
    mj.body(PUSH_BODY).add_site(name=PUSH_SITE, pos=list(scene.push_site), size=[0.005, 0, 0],
                                group=COLLISION_GROUP)
    (name, cam), = spec.cameras.items()
    mj.body(CAMERA_BODY).add_camera(name=name, pos=list(scene.camera_pos), quat=_look_quat(scene.camera_pitch_deg),
                                    fovy=CAMERA_FOVY_DEG)
    mj.visual.global_.offwidth = max(cam.width, 1280)
    mj.visual.global_.offheight = max(cam.height, 800)


def build_spec(spec: Embodiment, scene: Scene = Scene()) -> mujoco.MjSpec:
    """The editable MuJoCo spec of the GR1 at the table (compile with `.compile()`)."""
    text, colours = boxed_urdf(urdf_path(spec))
    mj = mujoco.MjSpec.from_string(text)
    mj.compiler.discardvisual = False  # URDF loading defaults to dropping contact-free geoms: our boxes
    missing = [n for n in spec.joint_names if mj.joint(n) is None]
    if missing:
        raise ValueError(f"URDF of embodiment {spec.name!r} lacks joints {missing}")
    _add_robot_details(mj, spec, colours)
    _add_scene(mj, spec, scene)
    return mj


def build_model(spec: Embodiment, scene: Scene = Scene()) -> mujoco.MjModel:
    return build_spec(spec, scene).compile()
