"""Run a planned stack as one process per node: start in order, watch, stop in reverse order.

What `ros2 launch` does for the robot, for machines without the launch packages (CI, laptops,
`make demo`). Each node logs to its own file so a failure names the node and where to look.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from typing_extensions import Self

from dreamgen_core.ros.node_process import NodeProcess
from dreamgen_core.stack import PlannedNode


class StackRunner:
    def __init__(self, nodes: list[PlannedNode], log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.nodes = nodes
        self.log_dir = log_dir
        self.env = env
        self.processes: list[NodeProcess] = []
        self._logs: list[IO[bytes]] = []

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self) -> StackRunner:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for node in self.nodes:
                log = open(self.log_path(node.name), "wb")  # noqa: SIM115 - closed by stop()
                self._logs.append(log)
                self.processes.append(
                    NodeProcess(node.package, node.executable, node.parameters, self.env, log, node.name).start())
        except BaseException:
            self.stop()
            raise
        return self

    def exited(self) -> list[tuple[str, int]]:
        """Nodes that are no longer running, with their exit codes."""
        return [(p.name, code) for p in self.processes if p.process is not None and (code := p.process.poll()) is not None]

    def wait_until_exit(self, poll_s: float = 0.5) -> tuple[str, int]:
        """Block until some node exits (a crash, or its work is done); return its name and code."""
        while not (gone := self.exited()):
            time.sleep(poll_s)
        return gone[0]

    def stop(self) -> dict[str, int]:
        codes = {p.name: p.stop() for p in reversed(self.processes)}
        for log in self._logs:
            log.close()
        self.processes, self._logs = [], []
        return codes

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
