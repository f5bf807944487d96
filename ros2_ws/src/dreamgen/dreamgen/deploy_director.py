"""A scripted operator for deploy in simulation: runs the policy on each task and judges it.

For every episode: disable the safety monitor's policy source, deactivate policy_node, give both
the sim and the policy the task's instruction, reset the scene (/sim/reset), activate the policy
and enable the monitor (the policy ramps in from the measured pose), then watch the sim's own
success check on /sim/task: success once it holds for `success_hold_s` of sim time, failure at
`episode_timeout_s`. The same rule as `dreamgen policy eval --sim` (policy.rollout.RolloutConfig),
so the two report comparable numbers. With `recorder` (a node name), each rollout is also recorded
as an episode (started once the policy runs, stopped with its outcome: failures are data too).
Writes a JSON report and exits 0 when every episode ran (and, recording, was saved).
"""

from __future__ import annotations

import json
import threading
import time

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.client import Client
from rclpy.parameter_client import AsyncParameterClient
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen.operator_calls import OperatorCalls
from dreamgen.sim_robot import RESET_SERVICE, TASK_TOPIC
from dreamgen_core.policy.rollout import RolloutConfig
from dreamgen_core.sim.task import TASKS, task_for

DEFAULTS = RolloutConfig()
STARTUP_SETTLE_S = 3.0  # sim time before the first reset (the arms' start-up transient)


class DeployDirector(OperatorCalls, DreamgenNode):
    def __init__(self) -> None:
        super().__init__("deploy_director")
        p = self.declare_parameter
        self.episodes = int(p("episodes", 1).value)
        self.timeout_s = float(p("episode_timeout_s", DEFAULTS.max_episode_s + self.spec.safety.ramp_in_s).value)
        self.hold_s = float(p("success_hold_s", DEFAULTS.success_hold_s).value)
        self.report_path = str(p("report", "").value)
        recorder = str(p("recorder", "").value)
        self.instructions = [str(i) for i in p("instructions", [t.instruction for t in TASKS]).value]
        for instruction in self.instructions:
            task_for(instruction)  # an unknown one fails here, with the list of known ones
        self.reset = self.create_client(Trigger, RESET_SERVICE)
        self.enable = self.create_client(SetBool, "/safety_monitor/enable")
        self.lifecycle = self.create_client(ChangeState, "/policy_node/change_state")
        self.sim_params = AsyncParameterClient(self, "sim_robot")
        self.policy_params = AsyncParameterClient(self, "policy_node")
        self.recorder: tuple[Client, Client, AsyncParameterClient] | None = None
        if recorder:
            self.recorder = (self.create_client(Trigger, f"/{recorder}/start"),
                             self.create_client(SetBool, f"/{recorder}/stop"), AsyncParameterClient(self, recorder))
        self.task: dict = {}
        self.create_subscription(String, TASK_TOPIC, lambda m: setattr(self, "task", json.loads(m.data)), 10)
        threading.Thread(target=self.direct, daemon=True).start()

    def sim_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def direct(self) -> None:
        self.direct_episodes(self.run_all, self.report_path)

    def run_all(self, results: list[dict]) -> bool:
        recorder = () if self.recorder is None else self.recorder
        self.wait_for_services((self.reset, self.enable, self.lifecycle, *recorder[:2]),
                               (self.sim_params, self.policy_params, *recorder[2:]), 90.0)
        self.wait_for(lambda: self.sim_s() >= STARTUP_SETTLE_S, f"{STARTUP_SETTLE_S:g} s of sim time", 120.0)
        for instruction in self.instructions:
            for k in range(self.episodes):
                results.append(self.run_one(instruction, k))
        return all(r.get("saved", True) for r in results)

    def run_one(self, instruction: str, index: int) -> dict:
        self.call(self.enable, SetBool.Request(data=False))
        self.transition(Transition.TRANSITION_DEACTIVATE, allow_fail=True)  # not active after a failure
        recorder = () if self.recorder is None else self.recorder
        for params in (self.sim_params, self.policy_params, *recorder[2:]):
            self.set_instruction(params, instruction)
        seed_before = self.task.get("seed")
        self.call(self.reset, Trigger.Request())
        self.wait_for(lambda: self.task.get("seed") not in (None, seed_before), "a new task after /sim/reset")
        self.transition(Transition.TRANSITION_ACTIVATE)
        enabled = self.call(self.enable, SetBool.Request(data=True))
        if not enabled.success:
            raise RuntimeError(f"the safety monitor refused the enable: {enabled.message}")
        if self.recorder is not None:
            self.start_recording()
        start = self.sim_s()
        success_since: float | None = None
        while (now := self.sim_s()) - start < self.timeout_s:
            if self.task.get("success"):
                success_since = now if success_since is None else success_since
                if now - success_since >= self.hold_s:
                    break
            else:
                success_since = None
            time.sleep(0.05)
        success = success_since is not None and self.sim_s() - success_since >= self.hold_s
        self.call(self.enable, SetBool.Request(data=False))
        result = {"instruction": instruction, "episode": index, "seed": self.task.get("seed"), "success": success,
                  "sim_seconds": round(self.sim_s() - start, 2)}
        if self.recorder is not None:
            stopped = self.call(self.recorder[1], SetBool.Request(data=success))
            result |= {"saved": stopped.success, "recording": stopped.message}
        self.get_logger().info(f"{instruction!r} #{index}: {'success' if success else 'failure'} "
                               f"after {result['sim_seconds']} s")
        return result

    def start_recording(self) -> None:
        """Start the recorder once its required topics are fresh (the policy's commands have begun)."""
        assert self.recorder is not None
        deadline = time.monotonic() + 30.0
        while not (started := self.call(self.recorder[0], Trigger.Request())).success:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the recorder refused to start: {started.message}")
            time.sleep(0.2)

    def transition(self, transition_id: int, allow_fail: bool = False) -> None:
        reply = self.call(self.lifecycle, ChangeState.Request(transition=Transition(id=transition_id)))
        if not reply.success and not allow_fail:
            raise RuntimeError(f"policy_node refused lifecycle transition {transition_id} (see its log)")


main = main_for(DeployDirector)
