"""A scripted operator for the simulated robot: records N episodes by calling the recorder's services.

What a human does with `episode_keyboard`, automated for `make demo` and for collecting sim data:
pick the episode's task, reset the scene, start the episode, wait for the scripted teleop to
finish, stop it as a success or failure according to the simulator's own success check. Writes a
JSON summary (`report`) and exits 0 when every episode was saved.

Episode k's instruction is `instructions[k % len(instructions)]` (default: every task of the sim's
family in turn). It is set as the `instruction` parameter of the sim (before the reset that starts
the task) and of the recorder (before the start call that begins the episode), each through the
node's parameter service, waiting for the node to accept it: no episode can start with the last
one's instruction.
"""

from __future__ import annotations

import json
import threading
import time

from rclpy.parameter_client import AsyncParameterClient
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen.operator_calls import OperatorCalls
from dreamgen.scripted_teleop import STATE_TOPIC
from dreamgen.sim_robot import RESET_SERVICE, TASK_TOPIC
from dreamgen_core.sim.task import TASKS, task_for

SIM_NODE = "sim_robot"
STARTUP_SETTLE_S = 3.0  # sim time before the first reset


class EpisodeDirector(OperatorCalls, DreamgenNode):
    def __init__(self) -> None:
        super().__init__("episode_director")
        self.episodes = int(self.declare_parameter("episodes", 2).value)
        self.timeout_s = float(self.declare_parameter("episode_timeout_s", 60.0).value)
        self.report_path = str(self.declare_parameter("report", "").value)
        recorder = str(self.declare_parameter("recorder", "episode_recorder").value)
        self.instructions = [str(i) for i in self.declare_parameter(
            "instructions", [t.instruction for t in TASKS]).value]
        for instruction in self.instructions:
            task_for(instruction)  # an unknown one fails here, with the list of known ones
        self.reset = self.create_client(Trigger, RESET_SERVICE)
        self.start = self.create_client(Trigger, f"/{recorder}/start")
        self.stop = self.create_client(SetBool, f"/{recorder}/stop")
        self.sim_params = AsyncParameterClient(self, SIM_NODE)
        self.recorder_params = AsyncParameterClient(self, recorder)
        self.task: dict = {}
        self.teleop_state = ""
        self.create_subscription(String, TASK_TOPIC, self.on_task, 10)
        self.create_subscription(String, STATE_TOPIC, lambda m: setattr(self, "teleop_state", m.data), 10)
        threading.Thread(target=self.direct, daemon=True).start()

    def on_task(self, msg: String) -> None:
        self.task = json.loads(msg.data)

    def direct(self) -> None:
        self.direct_episodes(self.record_all, self.report_path)

    def record_all(self, results: list[dict]) -> bool:
        self.wait_for_services((self.reset, self.start, self.stop), (self.sim_params, self.recorder_params), 60.0)
        for index in range(self.episodes):
            results.append(self.record_one(index))
        return all(r["saved"] for r in results)

    def record_one(self, index: int) -> dict:
        instruction = self.instructions[index % len(self.instructions)]
        self.set_instruction(self.sim_params, instruction)
        seed_before = self.task.get("seed")
        # Right after start-up the simulated arms are still settling from their initial state, and the
        # joint states of that transient can reach a busy recorder after the reset: start no earlier.
        self.wait_for(lambda: self.get_clock().now().nanoseconds * 1e-9 >= STARTUP_SETTLE_S,
                      f"{STARTUP_SETTLE_S:g} s of sim time")
        self.call(self.reset, Trigger.Request())
        self.wait_for(lambda: self.task.get("seed") not in (None, seed_before), "a new task after /sim/reset")
        self.set_instruction(self.recorder_params, instruction)
        deadline = time.monotonic() + 30.0
        while True:  # the start gate refuses while a required topic is stale
            started = self.call(self.start, Trigger.Request())
            if started.success or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if not started.success:
            raise RuntimeError(f"episode {index}: recorder refused to start: {started.message}")
        self.wait_for(lambda: self.teleop_state == "running", "the teleop to start")
        self.wait_for(lambda: self.teleop_state == "done", "the teleop to finish", self.timeout_s)
        success = bool(self.task.get("success"))
        stopped = self.call(self.stop, SetBool.Request(data=success))
        self.get_logger().info(f"episode {index}: {'success' if success else 'failure'}: {stopped.message}")
        return {"episode": index, "instruction": self.task["instruction"], "seed": self.task["seed"],
                "success": success, "saved": stopped.success, "message": stopped.message}


main = main_for(EpisodeDirector)
