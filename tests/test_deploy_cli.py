"""`dreamgen deploy --sim`: the whole graph (sim_robot, safety_monitor, policy_node, deploy_director)
runs an episode per task in closed loop and prints success per task.

The policy is the constant tiny PolicyNet of the fault tests (it raises the left elbow; it cannot
push a cube), so the honest outcome is a failure after the full episode time; what this pins is that
the graph runs end to end: the director resets the sim, re-activates the policy with the task's
instruction, enables the monitor, the policy's targets pass, and the report is written and printed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from test_deploy_faults_ros import constant_policy

pytestmark = pytest.mark.ros


def test_deploy_sim_runs_the_graph_and_reports_success_per_task(ros_env, tmp_path: Path, cli: Path) -> None:
    policy = constant_policy(tmp_path / "policy")
    out, rollouts = tmp_path / "report", tmp_path / "rollouts"
    done = subprocess.run([str(cli), "deploy", "--sim", str(policy), "--runtime", "torch", "--tasks",
                           "red_cube_to_green_target", "--max-episode-s", "3", "--out", str(out),
                           "--record", str(rollouts)],
                          env=ros_env, capture_output=True, text=True, timeout=400)
    logs = {p.name: p.read_text() for p in (out / "logs").glob("*.log")} if (out / "logs").is_dir() else {}
    assert done.returncode == 0, (done.stdout, done.stderr, {k: v[-1500:] for k, v in logs.items()})
    assert "red_cube_to_green_target: 0/1 successes" in done.stdout
    [result] = json.loads((out / "deploy.json").read_text())
    assert result["success"] is False and result["sim_seconds"] >= 3.0
    assert "Use the right hand to push the red cube" in result["instruction"]
    monitor = logs["safety_monitor.log"]
    assert "enabled: ramping in" in monitor and "disabled" in monitor
    assert "active: 'Use the right hand to push the red cube" in logs["policy_node.log"]
    # The failed rollout is an episode too: a bag with its outcome, instruction and the policy's commands.
    assert result["saved"] is True and "rollouts recorded: 1/1" in done.stdout
    [bag] = [p for p in rollouts.iterdir() if (p / "metadata.yaml").is_file()]
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    topics = {t["topic_metadata"]["name"]: t["message_count"] for t in meta["topics_with_message_count"]}
    assert topics["/policy/joint_command"] > 10 and topics["/gr1/joint_command"] > 10
    assert meta["custom_data"]["outcome"] == "failure"
    assert "push the red cube" in meta["custom_data"]["instruction"]
