"""A scripted operator for the simulated robot: records N episodes by calling the recorder's services.

What a human does with `episode_keyboard`, automated for `make demo` and for collecting sim data:
reset the scene, set the task's instruction, start the episode, wait for the scripted teleop to
finish, stop it as a success or failure according to the simulator's own success check. Writes a
JSON summary (`report`) and exits 0 when every episode was saved.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from rclpy.client import Client
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen_core.atomic import write_text_atomic


class EpisodeDirector(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("episode_director")
        self.episodes = int(self.declare_parameter("episodes", 2).value)
        self.timeout_s = float(self.declare_parameter("episode_timeout_s", 60.0).value)
        self.report_path = str(self.declare_parameter("report", "").value)
        recorder = str(self.declare_parameter("recorder", "episode_recorder").value)
        self.reset = self.create_client(Trigger, "/sim/reset")
        self.start = self.create_client(Trigger, f"/{recorder}/start")
        self.stop = self.create_client(SetBool, f"/{recorder}/stop")
        self.instruction = self.create_publisher(String, f"/{recorder}/instruction", 10)
        self.task: dict = {}
        self.teleop_state = ""
        self.create_subscription(String, "/sim/task", self.on_task, 10)
        self.create_subscription(String, "/teleop/state", lambda m: setattr(self, "teleop_state", m.data), 10)
        threading.Thread(target=self.direct, daemon=True).start()

    def on_task(self, msg: String) -> None:
        self.task = json.loads(msg.data)

    def direct(self) -> None:
        results = []
        try:
            for client in (self.reset, self.start, self.stop):
                if not client.wait_for_service(timeout_sec=60.0):
                    raise RuntimeError(f"service {client.srv_name} did not appear")
            for index in range(self.episodes):
                results.append(self.record_one(index))
            code = 0 if all(r["saved"] for r in results) else 1
        except RuntimeError as exc:
            self.get_logger().error(str(exc))
            results.append({"error": str(exc)})
            code = 1
        if self.report_path:
            write_text_atomic(Path(self.report_path), json.dumps(results, indent=2) + "\n")
        self.finish(code)

    def record_one(self, index: int) -> dict:
        seed_before = self.task.get("seed")
        self.call(self.reset, Trigger.Request())
        self.wait_for(lambda: self.task.get("seed") not in (None, seed_before), "a new task after /sim/reset")
        self.wait_for(lambda: self.instruction.get_subscription_count() > 0, "the recorder's instruction topic")
        deadline = time.monotonic() + 30.0
        while True:  # the start gate refuses while a required topic is stale (e.g. right after a reset)
            self.instruction.publish(String(data=self.task["instruction"]))
            time.sleep(0.3)  # let the recorder take the instruction before it starts
            started = self.call(self.start, Trigger.Request())
            if started.success or time.monotonic() > deadline:
                break
        if not started.success:
            raise RuntimeError(f"episode {index}: recorder refused to start: {started.message}")
        self.wait_for(lambda: self.teleop_state == "running", "the teleop to start")
        self.wait_for(lambda: self.teleop_state == "done", "the teleop to finish", self.timeout_s)
        success = bool(self.task.get("success"))
        stopped = self.call(self.stop, SetBool.Request(data=success))
        self.get_logger().info(f"episode {index}: {'success' if success else 'failure'}: {stopped.message}")
        return {"episode": index, "instruction": self.task["instruction"], "seed": self.task["seed"],
                "success": success, "saved": stopped.success, "message": stopped.message}

    def call(self, client: Client, request):
        future = client.call_async(request)
        self.wait_for(future.done, f"a reply from {client.srv_name}", 30.0)
        return future.result()

    def wait_for(self, condition, what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
            time.sleep(0.05)


main = main_for(EpisodeDirector)
