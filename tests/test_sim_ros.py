"""sim_robot and scripted_teleop over real rclpy and Fast DDS: the robot contract on sim time, closed loop."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from pathlib import Path

import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.ros.node_process import NodeProcess
from dreamgen_core.sim.robot import HOME
from dreamgen_core.sim.task import TASKS

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 320, 200
TIMEOUT_S = 45.0
STILL_S = 0.5  # the robot rests this long after a reset (the expert holds still for longer)


@pytest.mark.ros
def test_sim_robot_and_scripted_teleop_close_the_loop(ros_env: dict[str, str], tmp_path: Path) -> None:
    import rclpy
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Image, JointState
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    spec = load_embodiment("gr1")
    cam = spec.cameras["ego_view"]
    got: dict[str, list] = {"joints": [], "clock": [], "image": [], "info": [], "task": [], "teleop": [],
                            "commands": []}
    initial, second = TASKS[3], TASKS[1]
    sim_params = {"camera_width": WIDTH, "camera_height": HEIGHT, "seed": 2, "instruction": initial.instruction,
                  "camera_info_file": str(REPO / "calibration" / "sim_gr1_ego_view.yaml"),
                  # The contract's safety_monitor is not part of this test: the sim obeys the teleop directly.
                  "command_topic": spec.ros.teleop_command.name}
    log_path = tmp_path / "nodes.log"
    rclpy.init()
    node = rclpy.create_node("sim_test_probe")
    try:
        node.create_subscription(JointState, spec.ros.joint_states.name, got["joints"].append, 100)
        node.create_subscription(Clock, spec.ros.clock.name, got["clock"].append, 100)
        node.create_subscription(Image, cam.topic, got["image"].append,
                                 QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(CameraInfo, cam.info_topic, got["info"].append, 10)
        node.create_subscription(String, "/sim/task", lambda m: got["task"].append(json.loads(m.data)), 10)
        node.create_subscription(String, "/teleop/state", lambda m: got["teleop"].append(m.data), 10)
        node.create_subscription(JointState, spec.ros.teleop_command.name, got["commands"].append, 100)
        params = AsyncParameterClient(node, "sim_robot")

        def reset_task() -> dict | None:
            return next((t for t in got["task"] if t["seed"] == 3), None)

        def states_after(t: float) -> list:
            return [m for m in got["joints"] if m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 > t + 1e-6]

        def set_instruction(text: str):
            future = params.set_parameters([Parameter("instruction", value=text)])
            rclpy.spin_until_future_complete(node, future, timeout_sec=5.0)
            return future.result().results[0]
        with open(log_path, "wb") as log, \
                NodeProcess("dreamgen", "sim_robot", sim_params, env=ros_env, log=log), \
                NodeProcess("dreamgen", "scripted_teleop", env=ros_env, log=log):
            deadline = time.monotonic() + TIMEOUT_S
            while time.monotonic() < deadline and not (got["task"] and got["task"][-1]["success"]
                                                       and got["teleop"] and got["teleop"][-1] == "done"):
                rclpy.spin_once(node, timeout_sec=0.05)
            solved = list(got["task"]), list(got["teleop"])
            # An instruction outside the family is refused; a known one is the task of the next reset.
            assert params.wait_for_services(timeout_sec=5.0)
            refused = set_instruction("Use the right hand to push the green cube onto the red target.")
            accepted = set_instruction(second.instruction)
            # /sim/reset re-randomizes with the next seed and the teleop starts a new attempt.
            reset = node.create_client(Trigger, "/sim/reset")
            assert reset.wait_for_service(timeout_sec=5.0)
            future = reset.call_async(Trigger.Request())
            rclpy.spin_until_future_complete(node, future, timeout_sec=5.0)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and not (reset_task() and got["teleop"][-1] == "running"
                                                       and states_after(reset_task()["time"] + STILL_S)):
                rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    log = log_path.read_text(errors="replace")

    joints = got["joints"]
    assert len(joints) > 200, log
    assert all(list(m.name) == list(spec.joint_names) for m in joints)
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in joints]
    assert all(b > a for a, b in itertools.pairwise(stamps))  # sim time, strictly increasing
    assert (len(stamps) - 1) / (stamps[-1] - stamps[0]) >= spec.rates.joint_states_min_hz * 0.95

    clock = [c.clock.sec + c.clock.nanosec * 1e-9 for c in got["clock"]]
    assert clock[-1] - clock[0] > 2.0

    images = got["image"]
    assert images and all(m.encoding == "rgb8" and (m.width, m.height) == (WIDTH, HEIGHT)
                          and len(m.data) == WIDTH * HEIGHT * 3 for m in images)
    image_stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in images]
    image_rate = (len(images) - 1) / (image_stamps[-1] - image_stamps[0])
    assert image_rate == pytest.approx(cam.rate_hz, rel=0.2)  # in sim time; frames may not be dropped
    info = got["info"][-1]
    assert (info.width, info.height) == (WIDTH, HEIGHT) and info.k[2] == pytest.approx(WIDTH / 2)

    # The teleop's targets moved the arm, and the task got done.
    shoulder = spec.slot("right_shoulder_pitch_joint")
    first = spec.place(joints[0].name, joints[0].position).vector[shoulder]
    assert max(abs(spec.place(m.name, m.position).vector[shoulder] - first) for m in joints) > 0.2
    tasks, phases = solved
    assert "running" in phases and phases[-1] == "done", log
    assert tasks[-1]["success"] and tasks[-1]["seed"] == 2, tasks[-1]
    assert {t["instruction"] for t in tasks} == {initial.instruction}
    assert not refused.successful and "green cube" in refused.reason and initial.instruction in refused.reason
    assert accepted.successful
    assert future.result().success and future.result().message == "seed 3"
    after = reset_task()
    assert after and after["instruction"] == second.instruction and not after["success"]
    assert got["teleop"][-1] == "running", log

    # The teleop streamed without a pause. After the reset the robot rests at its start pose: commands
    # still in flight (or a teleop tick that ran before it saw the new task) do not swing the arm back
    # towards where the last episode left it.
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in got["commands"]]
    assert max(b - a for a, b in itertools.pairwise(stamps)) < 0.2, log
    reset_at = after["time"]
    settling = [m for m in states_after(reset_at) if m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
                <= reset_at + STILL_S]
    assert settling, log
    for m in settling:
        placed = spec.place(m.name, m.position).vector
        for name, home in HOME.items():
            assert placed[spec.slot(name)] == pytest.approx(home, abs=0.01), name


@pytest.mark.ros
@pytest.mark.parametrize("executable,parameter", [("sim_robot", "instruction"), ("episode_director", "instructions")])
def test_an_unknown_instruction_is_one_line_and_exit_2(ros_env: dict[str, str], executable: str,
                                                       parameter: str) -> None:
    wrong = "Use the right hand to push the green cube onto the red target."
    value = wrong if parameter == "instruction" else f"['{TASKS[0].instruction}', '{wrong}']"
    node = NodeProcess("dreamgen", executable, {parameter: value}, env=ros_env, log=subprocess.PIPE).start()
    try:
        code = node.wait(timeout=60)
    finally:
        node.stop()
    output = node.process.stdout.read().decode()
    errors = [line for line in output.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "Traceback" not in output, output
    assert repr(wrong) in errors[0] and TASKS[3].instruction in errors[0], errors[0]
