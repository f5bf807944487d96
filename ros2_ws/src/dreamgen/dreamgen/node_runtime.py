"""The one lifecycle idiom of dreamgen nodes: init, spin until finished or signalled, clean shutdown.

Every node subclasses `DreamgenNode` and is started by `run_node`. SIGINT and SIGTERM only *ask* the
node to stop (`dreamgen.stop_signals`, installed when the package is imported; rclpy's handlers are
not installed): the spin loop sees the request between callbacks, `on_shutdown` runs with the
context still valid (files closed, episodes saved, reports written), then the node and the context
are destroyed in order. The process exits 0 unless the node chose a code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from dreamgen.stop_signals import stop_request
from dreamgen_core.config import ConfigError
from dreamgen_core.embodiment import Embodiment, load_embodiment
from dreamgen_core.ros.discovery import DOMAIN_VAR, LEGACY_VAR, RANGE_VAR, problems


class DreamgenNode(Node):
    """A node that knows its embodiment and can end its own spin with an exit code."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.exit_code: int | None = None
        spec = self.declare_parameter("embodiment", "gr1").value
        self.spec: Embodiment = load_embodiment(spec)
        self.discovery = {k: os.environ.get(k, "") for k in (RANGE_VAR, DOMAIN_VAR, LEGACY_VAR)}
        self.get_logger().info(
            f"embodiment {self.spec.name} ({self.spec.content_hash[:12]}), discovery "
            + " ".join(f"{k}={v or '<unset>'}" for k, v in self.discovery.items()))
        for problem in problems(os.environ):
            # On a robot, SUBNET discovery to a workstation can be intended: warn, do not refuse.
            self.get_logger().warning(problem)

    def finish(self, code: int = 0) -> None:
        self.exit_code = code

    def on_shutdown(self) -> None:
        """Release resources; called once after the spin ends, for any reason."""


CONFIG_ERROR_EXIT = 2  # as the dreamgen CLI: the input was wrong, nothing ran


def run_node(factory: Callable[[], DreamgenNode], args: list[str] | None = None,
             executor_type: Callable[[], Executor] = SingleThreadedExecutor) -> int:
    stop = stop_request()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node: DreamgenNode | None = None
    executor = executor_type()
    try:
        if not stop.requested:
            node = factory()
            executor.add_node(node)
    except (ConfigError, FileNotFoundError) as exc:
        # A wrong spec, config or file name is the user's to fix: one line that names it, no traceback.
        print(f"{getattr(factory, '__name__', 'node')}: error: {exc}", file=sys.stderr, flush=True)
        executor.shutdown()
        rclpy.try_shutdown()
        return CONFIG_ERROR_EXIT
    code: int | None = None
    try:
        while node is not None and not stop.requested and rclpy.ok() and node.exit_code is None:
            executor.spin_once(timeout_sec=0.1)
    except ExternalShutdownException:
        pass
    finally:
        # The verdict is the node's when the spin ended: a worker thread that fails while the node is
        # torn down (its handles already destroyed) must not turn a clean stop into a failure.
        code = node.exit_code if node is not None else None
        if node is not None:
            if stop.requested:
                node.get_logger().info(f"stopping: {stop.reason}")
            node.on_shutdown()
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return 0 if code is None else code


def main_for(factory: Callable[[], DreamgenNode],
             executor_type: Callable[[], Executor] = SingleThreadedExecutor) -> Callable[[], None]:
    """A console-script entry point that runs `factory`'s node (spun by `executor_type`) and exits
    with its code."""
    def main() -> None:
        code = run_node(factory, sys.argv, executor_type)
        stop_request().ignore_further()
        sys.exit(code)
    return main
