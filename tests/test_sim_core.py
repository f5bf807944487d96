"""The simulated GR1 without ROS: model, seeded task family, success checks, camera, and the scripted expert."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest

import dreamgen_core.sim  # noqa: F401  (selects the headless GL backend before mujoco loads)
from dreamgen_core.calibration.camera_info import load_camera_info
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.sim.expert import SETTLE_S, ScriptedExpert, run_episode
from dreamgen_core.sim.model import CUBE_RGBA, TARGET_RGBA, VISUAL_PREFIX
from dreamgen_core.sim.robot import SimRobot
from dreamgen_core.sim.task import DEFAULT_TASK, TASKS, UnknownInstruction, sample_layout, task_for

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


def test_a_command_agrees_with_the_held_pose_only_within_tolerance(robot: SimRobot) -> None:
    robot.reset(0)
    held = robot.data.ctrl[robot.model.actuator("right_elbow_pitch_joint").id]
    assert robot.agrees(["right_elbow_pitch_joint", "head_yaw_joint"], [held + 0.05, 0.0], 0.1)
    assert not robot.agrees(["right_elbow_pitch_joint"], [held + 0.5], 0.1)  # the last episode's pose
    assert not robot.agrees(["right_elbow_pitch_joint"], [np.nan], 0.1)
    assert not robot.agrees(["nonexistent_joint"], [0.0], 0.1)


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
    assert not state.success and state.instruction == DEFAULT_TASK.instruction
    tx, ty, _ = state.target_pos
    on_table = scene.table_top_z + scene.cube_half
    robot.place_cube("red", [tx + 0.01, ty - 0.01, on_table])
    assert robot.task_state().success
    robot.place_cube("red", [tx, ty, on_table + 0.1])  # held above the target
    assert not robot.task_state().success
    robot.place_cube("red", [tx + scene.target_radius + 0.02, ty, on_table])  # beside it
    assert not robot.task_state().success
    tipped = np.array([np.cos(0.4), np.sin(0.4), 0.0, 0.0])
    robot.place_cube("red", [tx, ty, on_table], tipped)
    assert not robot.task_state().success


def test_the_instruction_names_the_task() -> None:
    assert len(TASKS) >= 3 and len({t.instruction for t in TASKS}) == len(TASKS)
    for task in TASKS:
        assert task.instruction.startswith("Use the right hand to push the ")
        assert task_for(task.instruction) == task
        assert task_for("  " + task.instruction.upper().rstrip(".")) == task  # case, spacing, full stop
    assert {(t.cube, t.target) for t in TASKS} == {(c, g) for c in CUBE_RGBA for g in TARGET_RGBA}
    with pytest.raises(UnknownInstruction) as err:
        task_for("Use the right hand to push the green cube onto the red target.")
    message = str(err.value)
    assert "'Use the right hand to push the green cube onto the red target.'" in message and "\n" not in message
    assert all(t.instruction in message for t in TASKS)  # the known ones, to pick from


def test_every_object_is_on_the_table_and_the_seed_places_them(spec, robot: SimRobot) -> None:
    """Distractors are always there; the same seed gives every task the same scene."""
    scene = robot.scene
    firsts = []
    for task in TASKS:
        robot.reset(7, task)
        assert robot.task_state().instruction == task.instruction and not robot.task_state().success
        firsts.append(np.concatenate([robot.cube_pose(c) for c in CUBE_RGBA]))
        for colour in CUBE_RGBA:
            x, y, z = robot.cube_pose(colour)[:3]
            assert abs(x - scene.table_center_xy[0]) < scene.table_half_xy[0]
            assert abs(y - scene.table_center_xy[1]) < scene.table_half_xy[1]
            assert z == pytest.approx(scene.table_top_z + scene.cube_half)
    assert all(np.array_equal(firsts[0], f) for f in firsts)
    layouts = [sample_layout(seed) for seed in range(30)]
    assert len({lay.cubes["red"] for lay in layouts}) == 30  # positions are randomized by seed
    for lay in layouts:
        (t1, t2) = lay.targets.values()
        assert np.hypot(t1[0] - t2[0], t1[1] - t2[1]) > 2 * scene.target_radius  # targets never overlap


SEEDS = range(20)


@pytest.fixture(scope="module")
def expert_runs(spec) -> dict[str, list[tuple[bool, dict[str, bool], float]]]:
    """Per task, per seed: solved, every task's success check on the final scene, and how far the
    other cube moved. One robot and expert for all (the model builds once)."""
    sim, expert = SimRobot(spec), ScriptedExpert(spec)
    runs: dict[str, list[tuple[bool, dict[str, bool], float]]] = {}
    for task in TASKS:
        other = next(c for c in CUBE_RGBA if c != task.cube)
        for seed in SEEDS:
            sim.reset(seed, task)
            before = sim.cube_pose(other)[:2]
            solved = run_episode(sim, expert, spec.rates.control_hz, settle_s=0.3)
            checks = {t.name: sim.task_state(t).success for t in TASKS}
            moved = float(np.linalg.norm(sim.cube_pose(other)[:2] - before))
            runs.setdefault(task.name, []).append((solved, checks, moved))
    return runs


@pytest.mark.parametrize("task", TASKS, ids=[t.name for t in TASKS])
def test_scripted_expert_solves_each_task_closed_loop(expert_runs, task) -> None:
    runs = expert_runs[task.name]
    rate = sum(solved for solved, _, _ in runs) / len(runs)
    print(f"{task.name}: expert success {rate:.2f} over {len(runs)} seeds")
    assert rate >= 0.9, [seed for seed, (solved, _, _) in zip(SEEDS, runs) if not solved]
    assert max(moved for _, _, moved in runs) < 0.01  # the distractor cube stays where it was


@pytest.mark.parametrize("task", TASKS, ids=[t.name for t in TASKS])
def test_each_success_check_fails_on_another_tasks_episode(expert_runs, task) -> None:
    """Solving task X is a failure for every other task in the same scene."""
    for name, runs in expert_runs.items():
        if name != task.name:
            assert not any(checks[task.name] for _, checks, _ in runs), (task.name, "passes after", name)


def test_a_no_op_episode_fails_every_task(spec, robot: SimRobot) -> None:
    for task in TASKS:
        robot.reset(3, task)
        robot.step(round(2.0 / robot.timestep))  # nobody commands anything
        assert not robot.task_state().success, task.name


def test_episodes_start_from_a_still_robot_and_camera(spec, robot: SimRobot) -> None:
    """After a reset from the end of another episode, the head camera does not move while the
    expert starts, and its image is the same until the arm comes into view."""
    expert = ScriptedExpert(spec)
    steps = round(1.0 / (spec.rates.control_hz * robot.timestep))
    robot.reset(4, TASKS[1])
    run_episode(robot, expert, spec.rates.control_hz, settle_s=0.0)  # a previous episode's end pose
    robot.reset(5, TASKS[2])
    cam = robot.model.camera(robot.camera_name).id
    pos0, mat0 = robot.data.cam_xpos[cam].copy(), robot.data.cam_xmat[cam].copy()
    camera = robot.renderer(*CI_SIZE)
    try:
        frames = [camera.render()]
        expert.start(robot.task_state(), robot.positions(), robot.time)
        t0, drift, turn = robot.time, 0.0, 0.0
        while robot.time - t0 < 1.5:
            robot.command_vector(expert.act(robot.time))
            robot.step(steps)
            drift = max(drift, float(np.linalg.norm(robot.data.cam_xpos[cam] - pos0)))
            turn = max(turn, float(np.abs(robot.data.cam_xmat[cam] - mat0).max()))
            if robot.time - t0 < SETTLE_S:
                frames.append(camera.render())
    finally:
        camera.close()
    assert drift < 0.002 and turn < 0.005, (drift, turn)  # metres; rotation-matrix entries
    assert len(frames) > 10
    # The view holds still: at most a few edge pixels flicker as the cubes settle into their contacts.
    changed = [int((np.abs(frame.astype(int) - frames[0]).max(axis=2) > 8).sum()) for frame in frames[1:]]
    assert max(changed) < 0.001 * frames[0].shape[0] * frames[0].shape[1], changed


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
