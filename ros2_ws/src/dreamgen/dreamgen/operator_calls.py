"""What a scripted operator node does from its worker thread: call a service, set another node's
`instruction` parameter, wait for a condition, each with a timeout that names what it waited for.

The node's executor spins in the main thread and completes the futures; these only wait on them.
Shared by episode_director (collect) and deploy_director (deploy).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rclpy.client import Client
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient


class OperatorCalls:
    def set_instruction(self, params: AsyncParameterClient, instruction: str) -> None:
        """Set a node's `instruction` parameter and wait until the node has accepted it."""
        future = params.set_parameters([Parameter("instruction", value=instruction)])
        self.wait_for(future.done, f"{params.remote_node_name} to take the instruction", 30.0)
        result = future.result().results[0]
        if not result.successful:
            raise RuntimeError(f"{params.remote_node_name} refused instruction {instruction!r}: {result.reason}")

    def call(self, client: Client, request: Any) -> Any:
        future = client.call_async(request)
        self.wait_for(future.done, f"a reply from {client.srv_name}", 30.0)
        return future.result()

    def wait_for(self, condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
            time.sleep(0.05)
