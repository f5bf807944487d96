"""The simulated GR1 without ROS: model, seeded task, success check, camera, and the scripted expert."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest

import dreamgen_core.sim  # noqa: F401  (selects the headless GL backend before mujoco loads)
from dreamgen_core.calibration.camera_info import load_camera_info
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.sim.expert import ScriptedExpert, run_episode
from dreamgen_core.sim.model import VISUAL_PREFIX
from dreamgen_core.sim.robot import SimRobot

REPO = Path(__file__).resolve().parents[1]
CALIBRATION = REPO / "calibration" / "sim_gr1_ego_view.yaml"
CI_SIZE = (320, 200)  # width, height: the spec's 16:10 at a quarter of the native width


@pytest.fixture(scope="module")
def spec():
    return load_embodiment("gr1")


@pytest.fixture(scope="module")
def robot(spec) -> SimRobot:
    return SimRobot(spec, seed=0)


def test_every_embodiment_joint_has_a_position_actuator_by_name(spec, robot: SimRobot) -> None:
    m = robot.model
    assert m.nu == len(spec.joint_names) == 44
    for name in spec.joint_names:
        act = m.actuator(name)
        assert m.joint(m.actuator_trnid[act.id][0]).name == name
        assert tuple(m.actuator_ctrlrange[act.id]) == pytest.approx((spec.joints[name].lower, spec.joints[name].upper))
    # The hands' intermediate joints follow the proximal ones through the URDF's mimic equalities.
    assert m.neq == 10 and set(m.eq_type.tolist()) == {int(mujoco.mjtEq.mjEQ_JOINT)}
    assert m.nbody > 50 and m.nmesh > 0  # the manufacturer's kinematics and collision meshes
    visuals = [g for g in range(m.ngeom) if m.geom(g).name.startswith(VISUAL_PREFIX)]
    assert visuals and all(m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX and m.geom_contype[g] == 0 for g in visuals)


def test_position_targets_by_name_move_the_joint(spec, robot: SimRobot) -> None:
    robot.reset(0)
    slot = spec.slot("right_elbow_pitch_joint")
    result = robot.command(["right_elbow_pitch_joint", "nonexistent_joint", "head_yaw_joint"], [-1.7, 1.0, np.nan])
    assert result.unknown == ("nonexistent_joint",) and result.nonfinite == ("head_yaw_joint",)
    robot.step(500)
    assert robot.positions()[slot] == pytest.approx(-1.7, abs=0.02)
    assert robot.positions()[spec.slot("head_yaw_joint")] == pytest.approx(0.0, abs=1e-3)


def test_seed_determines_the_episode(spec) -> None:
    def rollout(seed: int) -> np.ndarray:
        sim = SimRobot(spec, seed=seed)
        sim.command(["right_shoulder_pitch_joint"], [-0.6])
        sim.step(300)
        return np.concatenate([sim.data.qpos, [sim.time]])

    a, b, c = rollout(3), rollout(3), rollout(4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_success_flips_only_with_the_cube_resting_in_the_target(robot: SimRobot) -> None:
    robot.reset(1)
    scene, state = robot.scene, robot.task_state()
    assert not state.success and "push the red cube" in state.instruction
    tx, ty, _ = state.target_pos
    on_table = scene.table_top_z + scene.cube_half
    robot.place_cube([tx + 0.01, ty - 0.01, on_table])
    assert robot.task_state().success
    robot.place_cube([tx, ty, on_table + 0.1])  # held above the target
    assert not robot.task_state().success
    robot.place_cube([tx + scene.target_radius + 0.02, ty, on_table])  # beside it
    assert not robot.task_state().success
    tipped = np.array([np.cos(0.4), np.sin(0.4), 0.0, 0.0])
    robot.place_cube([tx, ty, on_table], tipped)
    assert not robot.task_state().success


def test_scripted_expert_solves_the_task_closed_loop(spec) -> None:
    expert = ScriptedExpert(spec)
    seeds = range(5)
    results = [run_episode(SimRobot(spec, seed=s), expert, spec.rates.control_hz) for s in seeds]
    assert sum(results) / len(results) >= 0.8, dict(zip(seeds, results))


def test_head_camera_renders_rgb8_of_the_scene(robot: SimRobot) -> None:
    robot.reset(0)
    camera = robot.renderer(*CI_SIZE)
    try:
        image = camera.render()
    finally:
        camera.close()
    assert image.shape == (CI_SIZE[1], CI_SIZE[0], 3) and image.dtype == np.uint8
    assert image.std() > 20  # not a blank frame
    red = (image[..., 0] > 150) & (image[..., 1] < 80) & (image[..., 2] < 80)
    assert red.sum() > 20  # the cube is in view


def test_camera_matches_the_calibration_file(spec, robot: SimRobot) -> None:
    native = spec.cameras["ego_view"]
    calibrated = load_camera_info(CALIBRATION)
    assert (calibrated.width, calibrated.height) == (native.width, native.height)
    for size in ((native.width, native.height), CI_SIZE):
        sim, cal = robot.camera_info(*size), calibrated.scaled(*size)
        np.testing.assert_allclose(sim.k, cal.k, rtol=1e-9)
        np.testing.assert_allclose(sim.p, cal.p, rtol=1e-9)
        np.testing.assert_array_equal(cal.d, 0.0)
