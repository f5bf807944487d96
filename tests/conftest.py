"""Shared fixtures. ROS tests run only on loopback-only discovery with a private domain."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# MuJoCo picks its GL backend at import: headless EGL, whichever test module imports it first.
os.environ.setdefault("MUJOCO_GL", "egl")
# No model hub and no usage reporting here: Hugging Face libraries and Ray must never phone home.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import pytest

from dreamgen_core.ros.discovery import problems
from dreamgen_core.ros.node_process import find_share
from dreamgen_core.ros.stack_runner import StackRunner
from dreamgen_core.stack import load_stack, plan

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
EPISODE_S = 3.0


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the marker must be there first
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every ROS test goes through the guard, whether or not it asks for the fixture by name, and every
    # test that uses the guard is a ROS test: `make test` runs the `ros` lane (one graph at a time) and
    # the `not ros` lane side by side (tools/run_tests.sh), so the marker must be complete.
    for item in items:
        if item.get_closest_marker("ros") and "ros_env" not in item.fixturenames:
            item.fixturenames.insert(0, "ros_env")
        if "ros_env" in item.fixturenames and not item.get_closest_marker("ros"):
            item.add_marker(pytest.mark.ros)


@pytest.fixture(scope="session")
def ros_env() -> dict[str, str]:
    """The environment ROS tests start processes with; refuses to run them if it is unsafe."""
    found = problems(os.environ)
    if found:
        pytest.fail("refusing to run ROS tests: " + "; ".join(found) +
                    ". Run them with `make test` (or `dreamgen-ros-env -- pytest`).", pytrace=False)
    if not os.environ.get("AMENT_PREFIX_PATH"):
        pytest.fail("ros2_ws is not built and sourced: run `make test`, or `make setup` and "
                    "`source ros2_ws/install/setup.bash`", pytrace=False)
    return dict(os.environ)


@pytest.fixture
def cli() -> Path:
    """The installed `dreamgen` console script (what a user types)."""
    return VENV_BIN / "dreamgen"


@pytest.fixture(scope="session")
def ci_convert_config():
    """Conversion settings for episodes recorded in CI: QA may flag an episode recorded on a loaded
    machine; tests of the conversion itself accept it. Tolerances are the defaults. The sim camera
    renders 320x200 here, so that is the raw video's size (it is never upscaled)."""
    from dreamgen_core.convert import ConvertConfig

    return ConvertConfig(include_flagged=True, raw_size=(200, 320))


@pytest.fixture(scope="session")
def sim_episodes(ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """Three episodes recorded by the collect stack on the simulated GR1 (the middle one discarded):
    (episodes directory, the recorder's service replies). Shared by the collect and convert tests."""
    import rclpy
    from std_msgs.msg import String
    from std_srvs.srv import SetBool, Trigger

    out = tmp_path_factory.mktemp("collect")
    share = find_share("dreamgen", ros_env)
    nodes = plan(load_stack(share / "config" / "collect.yaml"), sim=True, embodiment="gr1", share_dir=share,
                 overrides={"sim_robot": {"camera_width": 320, "camera_height": 200},
                            "episode_recorder": {"output_dir": str(out / "episodes"), "operator": "ci"}})
    replies = []
    with StackRunner(nodes, out / "logs", ros_env):
        rclpy.init()
        node = rclpy.create_node("collect_test")
        try:
            def call(srv_type, name, request):
                client = node.create_client(srv_type, name)
                assert client.wait_for_service(timeout_sec=60), f"{name} did not appear; logs in {out / 'logs'}"
                future = client.call_async(request)
                rclpy.spin_until_future_complete(node, future, timeout_sec=30)
                assert future.done(), f"no reply from {name}"
                return future.result()

            instruction = node.create_publisher(String, "/episode_recorder/instruction", 10)
            for k, ending in enumerate(("success", "discard", "failure")):
                assert call(Trigger, "/sim/reset", Trigger.Request()).success
                deadline = time.monotonic() + 30
                while True:  # until discovered, and while the start gate finds a required topic stale
                    instruction.publish(String(data=f"episode {k}: push the red cube onto the green target"))
                    rclpy.spin_once(node, timeout_sec=0.2)
                    started = call(Trigger, "/episode_recorder/start", Trigger.Request())
                    if started.success or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                assert started.success, started.message
                end = time.monotonic() + EPISODE_S
                while time.monotonic() < end:
                    rclpy.spin_once(node, timeout_sec=0.1)
                if ending == "discard":
                    replies.append(call(Trigger, "/episode_recorder/discard", Trigger.Request()))
                else:
                    replies.append(call(SetBool, "/episode_recorder/stop", SetBool.Request(data=ending == "success")))
                assert replies[-1].success, replies[-1].message
        finally:
            node.destroy_node()
            rclpy.shutdown()
    return out / "episodes", replies


SIM_TASKS = ("red_cube_to_green_target", "blue_cube_to_yellow_target", "red_cube_to_yellow_target")
SIM_TRAIN_SEEDS = range(8)
SIM_HELDOUT_SEEDS = range(1000, 1003)


@pytest.fixture(scope="session")
def sim_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scripted expert's demos as a GR00T dataset (`record_sim_dataset`): SIM_TASKS x train seeds 0-7.
    Shared by the IDM, labelling and policy tests (recorded once per session)."""
    from dreamgen_core.sim.dataset import record_sim_dataset

    out = tmp_path_factory.mktemp("sim_demos") / "demos"
    record_sim_dataset(out, SIM_TASKS, SIM_TRAIN_SEEDS, workers=2, progress=False)
    return out


@pytest.fixture(scope="session")
def sim_heldout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Held-out demos of the same tasks: seeds 1000-1002 (other cube and target layouts than any train seed)."""
    from dreamgen_core.sim.dataset import record_sim_dataset

    out = tmp_path_factory.mktemp("sim_heldout") / "demos"
    record_sim_dataset(out, SIM_TASKS, SIM_HELDOUT_SEEDS, workers=2, progress=False)
    return out
