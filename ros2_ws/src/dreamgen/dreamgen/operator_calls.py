"""What a scripted operator node does from its worker thread: wait for the services it needs, call
one, set another node's `instruction` parameter, wait for a condition, each with a timeout that
names what it waited for; and run its episodes into a JSON report, ending the node with 0 or 1.

The node's executor spins in the main thread and completes the futures; these only wait on them.
Shared by episode_director (collect) and deploy_director (deploy).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rclpy.client import Client
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient

from dreamgen.stop_signals import stop_request
from dreamgen_core.atomic import write_text_atomic


class OperatorCalls:
    """Mixed into a DreamgenNode (it uses the node's `get_logger` and `finish`)."""

    def direct_episodes(self, run: Callable[[list[dict]], bool], report_path: str) -> None:
        """`run` appends one result per episode and says whether all went well; a RuntimeError ends
        the run as a failure (logged and reported). The JSON report is written either way."""
        results: list[dict] = []
        try:
            code = 0 if run(results) else 1
        except RuntimeError as exc:
            if stop_request().requested:
                return  # stopped by a signal: the node is being torn down under this thread
            self.get_logger().error(str(exc))  # type: ignore[attr-defined]
            results.append({"error": str(exc)})
            code = 1
        if report_path:
            write_text_atomic(Path(report_path), json.dumps(results, indent=2) + "\n")
        self.finish(code)  # type: ignore[attr-defined]

    def wait_for_services(self, clients: Sequence[Client], parameters: Sequence[AsyncParameterClient],
                          timeout_s: float) -> None:
        for client in clients:
            if not client.wait_for_service(timeout_sec=timeout_s):
                raise RuntimeError(f"service {client.srv_name} did not appear")
        for params in parameters:
            if not params.wait_for_services(timeout_sec=timeout_s):
                raise RuntimeError(f"the parameter services of {params.remote_node_name} did not appear")

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
