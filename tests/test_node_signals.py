"""Every node stops cleanly on SIGINT or SIGTERM at any moment, and on a second signal during shutdown.

Ctrl-C in a `ros2 launch` terminal reaches every node of the process group at once, while timers
publish at full rate and services are mid-call. Each node must exit 0 with no traceback and no
RCLError, and an open episode must be closed (as `interrupted`), however the signal falls: during
start-up, while recording, twice in a row.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import rclpy
import yaml
from std_srvs.srv import Trigger

from dreamgen_core.ros.node_process import NodeProcess, find_share
from dreamgen_core.ros.stack_runner import StackRunner
from dreamgen_core.stack import load_stack, plan

pytestmark = pytest.mark.ros
FORBIDDEN = ("Traceback", "RCLError", "KeyboardInterrupt", "context is invalid", "[ERROR]")


def collect_stack(ros_env: dict[str, str], out: Path) -> StackRunner:
    share = find_share("dreamgen", ros_env)
    nodes = plan(load_stack(share / "config" / "collect.yaml"), sim=True, embodiment="gr1", share_dir=share,
                 overrides={"sim_robot": {"camera_width": 160, "camera_height": 100},
                            "episode_recorder": {"output_dir": str(out / "episodes"),
                                                 "instruction": "signal test"}})
    return StackRunner(nodes, out / "logs", ros_env)


def start_recording(timeout_s: float = 60.0) -> str:
    """Start an episode as soon as the recorder's start gate accepts; returns the episode name."""
    node = rclpy.create_node("signal_test")
    try:
        client = node.create_client(Trigger, "/episode_recorder/start")
        assert client.wait_for_service(timeout_sec=timeout_s), "the recorder's start service never appeared"
        deadline = time.monotonic() + timeout_s
        while True:
            future = client.call_async(Trigger.Request())
            rclpy.spin_until_future_complete(node, future, timeout_sec=10)
            reply = future.result()
            if reply is not None and reply.success:
                return reply.message
            assert time.monotonic() < deadline, f"start refused: {reply.message if reply else 'no reply'}"
            time.sleep(0.3)
    finally:
        node.destroy_node()


def wait_for_log(paths: list[Path], text: str = "embodiment ", timeout_s: float = 60.0) -> None:
    """Until every node has logged `text`: its signal handlers are in place (a signal that arrives while
    the interpreter itself is still starting can only take Python's default action)."""
    deadline = time.monotonic() + timeout_s
    while not all(p.is_file() and text in p.read_text(errors="replace") for p in paths):
        assert time.monotonic() < deadline, f"not every node logged {text!r}: {paths}"
        time.sleep(0.02)


def signal_all(processes: list[NodeProcess], signals: list[int], between_s: float = 0.05) -> None:
    for k, sig in enumerate(signals):
        if k:
            time.sleep(between_s)
        for p in processes:
            if p.process is not None and p.process.poll() is None:
                p.process.send_signal(sig)


def exit_codes(processes: list[NodeProcess], timeout_s: float = 30.0) -> dict[str, int | None]:
    deadline = time.monotonic() + timeout_s
    codes: dict[str, int | None] = {}
    for p in processes:
        assert p.process is not None
        try:
            codes[p.name] = p.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # still running: reported as None, then killed by the runner
            codes[p.name] = None
    return codes


def assert_clean(codes: dict[str, int | None], logs: dict[str, str]) -> None:
    assert codes == dict.fromkeys(codes, 0), (codes, {n: logs[n][-2000:] for n, c in codes.items() if c != 0})
    for name, text in logs.items():
        bad = [word for word in FORBIDDEN if word in text]
        assert not bad, f"{name} log has {bad}:\n{text[-3000:]}"


@pytest.fixture(scope="module")
def ros_client():
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.mark.parametrize("signals, after_s", [
    ([signal.SIGINT], 0.2),                   # while timers and the first episode's writer are busy
    ([signal.SIGTERM], 1.5),                  # what `docker stop` and systemd send
    ([signal.SIGINT, signal.SIGINT], 0.8),    # an impatient operator presses Ctrl-C twice
], ids=["sigint", "sigterm", "sigint-twice"])
def test_collect_stack_stops_cleanly_while_recording(ros_env, ros_client, tmp_path: Path, signals: list[int],
                                                     after_s: float) -> None:
    runner = collect_stack(ros_env, tmp_path)
    with runner:
        episode = start_recording()
        time.sleep(after_s)
        signal_all(runner.processes, signals)
        codes = exit_codes(runner.processes)
    logs = {n.name: runner.log_path(n.name).read_text(errors="replace") for n in runner.nodes}
    assert_clean(codes, logs)
    bag = tmp_path / "episodes" / episode
    assert (bag / "metadata.yaml").is_file(), sorted(p.name for p in (tmp_path / "episodes").iterdir())
    custom = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["custom_data"]
    assert custom["outcome"] == "interrupted"
    assert not list((tmp_path / "episodes").glob("*.partial"))


def test_collect_stack_stops_cleanly_during_start_up(ros_env, tmp_path: Path) -> None:
    runner = collect_stack(ros_env, tmp_path)
    with runner:
        # Right after each node's first line: it is loading the spec, building the MuJoCo model, wiring.
        wait_for_log([runner.log_path(n.name) for n in runner.nodes])
        signal_all(runner.processes, [signal.SIGINT])
        codes = exit_codes(runner.processes)
    logs = {n.name: runner.log_path(n.name).read_text(errors="replace") for n in runner.nodes}
    assert_clean(codes, logs)


@pytest.mark.parametrize("executable, parameters", [
    ("pose_publisher", {"rate_hz": 1000.0}),
    ("joint_state_check", {"duration_s": 0.0}),
    ("episode_director", {"episodes": 1}),      # its worker thread is waiting for services that never come
])
def test_single_nodes_stop_cleanly_on_repeated_signals(ros_env, tmp_path: Path, executable: str,
                                                       parameters: dict) -> None:
    for k, (signals, after_s) in enumerate([([signal.SIGINT], 0.0), ([signal.SIGTERM], 1.0),
                                             ([signal.SIGINT, signal.SIGTERM], 0.5)]):
        log_path = tmp_path / f"{executable}-{k}.log"
        with open(log_path, "wb") as log:
            node = NodeProcess("dreamgen", executable, parameters, ros_env, log).start()
            try:
                wait_for_log([log_path])
                time.sleep(after_s)
                signal_all([node], signals)
                codes = exit_codes([node])
            finally:
                node.stop()
        assert_clean(codes, {executable: log_path.read_text(errors="replace")})


def test_a_wrong_embodiment_is_one_line_and_exit_2(ros_env, tmp_path: Path) -> None:
    log_path = tmp_path / "wrong.log"
    with open(log_path, "wb") as log:
        code = NodeProcess("dreamgen", "pose_publisher", {"embodiment": "nosuch"}, ros_env, log).start().wait(60)
    text = log_path.read_text()
    assert code == 2, text
    assert "Traceback" not in text
    assert "PosePublisher: error: no embodiment named 'nosuch'; shipped: gr1" in text


def test_the_joint_check_verdict_is_its_exit_code_with_an_integer_duration(ros_env, tmp_path: Path) -> None:
    """`ros2 run dreamgen joint_state_check --ros-args -p duration_s:=2 -p discovery_timeout_s:=2` as a
    script writes it: nothing publishes joint states here, so the verdict is a failure, exit 1, and
    says why (no traceback)."""
    log_path = tmp_path / "check.log"
    with open(log_path, "wb") as log:
        code = NodeProcess("dreamgen", "joint_state_check", {"duration_s": 2, "discovery_timeout_s": 2},
                           ros_env, log).start().wait(60)
    text = log_path.read_text()
    assert code == 1, text
    assert "no joint states received" in text and "Traceback" not in text
