"""The operator's terminal for episodes: single keys call the recorder's services.

`ros2 run dreamgen episode_keyboard` in a terminal beside the collect stack. On a terminal, keys
act at once; with piped input (scripts, tests) each line is one key, and the line after `i` is the
new instruction. Recorder state changes are printed as they happen.

A new instruction becomes the recorder's `instruction` parameter through its parameter service;
keys typed after it wait for the recorder to accept it, so a start right after an instruction
always records that instruction.
"""

from __future__ import annotations

import json
import queue
import sys
import termios
import threading
import tty

from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.task import Future
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen_core.operator_keys import EpisodeAction, action_for, help_text


class EpisodeKeyboard(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("episode_keyboard")
        recorder = str(self.declare_parameter("recorder", "episode_recorder").value)
        self.start_client = self.create_client(Trigger, f"/{recorder}/start")
        self.stop_client = self.create_client(SetBool, f"/{recorder}/stop")
        self.discard_client = self.create_client(Trigger, f"/{recorder}/discard")
        self.recorder_params = AsyncParameterClient(self, recorder)
        self.create_subscription(String, f"/{recorder}/status", self.on_status, 10)
        self.last_state: str | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.awaiting_instruction = False
        self.pending_instruction: str | None = None
        self.instruction_reply: Future | None = None
        threading.Thread(target=self.read_input, daemon=True).start()
        self.create_timer(0.05, self.handle_input)
        print(help_text(), flush=True)

    def read_input(self) -> None:
        if sys.stdin.isatty():
            self.read_keys()
        else:
            for line in sys.stdin:
                self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def read_keys(self) -> None:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while (key := sys.stdin.read(1)) and action_for(key) is not EpisodeAction.QUIT:
                if action_for(key) is EpisodeAction.EDIT_INSTRUCTION:
                    termios.tcsetattr(fd, termios.TCSADRAIN, saved)
                    print("instruction: ", end="", flush=True)
                    self.lines.put(key)
                    self.lines.put(sys.stdin.readline().rstrip("\n"))
                    tty.setcbreak(fd)
                else:
                    self.lines.put(key)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def handle_input(self) -> None:
        while self.instruction_delivered() and not self.lines.empty():
            line = self.lines.get()
            if line is None:
                self.finish(0)
                return
            if self.awaiting_instruction:
                self.awaiting_instruction = False
                self.pending_instruction = line
            elif line.strip():
                self.act(action_for(line.strip()[0]), line)

    def instruction_delivered(self) -> bool:
        """Move a typed instruction towards the recorder; True once none is outstanding."""
        if self.pending_instruction is None:
            return True
        if self.instruction_reply is None:
            if self.recorder_params.services_are_ready():  # not yet discovered: try again next tick
                self.instruction_reply = self.recorder_params.set_parameters(
                    [Parameter("instruction", value=self.pending_instruction)])
            return False
        if not self.instruction_reply.done():
            return False
        reply: SetParameters.Response = self.instruction_reply.result()
        result = reply.results[0]
        print(f"instruction set: {self.pending_instruction!r}" if result.successful
              else f"instruction refused: {result.reason}", flush=True)
        self.pending_instruction, self.instruction_reply = None, None
        return True

    def act(self, action: EpisodeAction | None, key: str) -> None:
        if action is EpisodeAction.START:
            self.call(self.start_client, Trigger.Request(), "start")
        elif action in (EpisodeAction.STOP_SUCCESS, EpisodeAction.STOP_FAILURE):
            self.call(self.stop_client, SetBool.Request(data=action is EpisodeAction.STOP_SUCCESS), action.value)
        elif action is EpisodeAction.DISCARD:
            self.call(self.discard_client, Trigger.Request(), "discard")
        elif action is EpisodeAction.EDIT_INSTRUCTION:
            self.awaiting_instruction = True
        elif action is EpisodeAction.QUIT:
            self.finish(0)
        else:
            print(help_text() if action is EpisodeAction.HELP else f"unknown key {key!r}; {help_text()}", flush=True)

    def call(self, client, request, what: str) -> None:
        if not client.service_is_ready():
            print(f"{what}: recorder service {client.srv_name} is not available", flush=True)
            return
        future = client.call_async(request)
        future.add_done_callback(lambda f: print(f"{what}: {'ok' if f.result().success else 'refused'}: "
                                                 f"{f.result().message}", flush=True))

    def on_status(self, msg: String) -> None:
        try:
            state = json.loads(msg.data).get("state")
        except json.JSONDecodeError:
            return
        if state != self.last_state:
            self.last_state = state
            print(f"recorder: {state}", flush=True)


main = main_for(EpisodeKeyboard)
