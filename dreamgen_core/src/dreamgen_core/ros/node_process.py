"""Run a ROS 2 executable of a colcon-installed package as a child process, like `ros2 run`.

This is how dreamgen's tooling (tests, the demo, the stack runner) starts nodes, so it is where
the network policy is enforced: a process whose environment is not loopback-only on a private
domain is refused before it starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from dreamgen_core.ros.discovery import require_safe


def find_executable(package: str, executable: str, env: Mapping[str, str]) -> Path:
    """`<prefix>/lib/<package>/<executable>` from AMENT_PREFIX_PATH, as `ros2 run` resolves it."""
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for prefix in prefixes:
        path = Path(prefix) / "lib" / package / executable
        if path.is_file() and os.access(path, os.X_OK):
            return path
    where = ", ".join(prefixes) or "AMENT_PREFIX_PATH is empty"
    raise FileNotFoundError(f"no executable {executable!r} of package {package!r} in {where}; "
                            "build ros2_ws and source ros2_ws/install/setup.bash (make does both)")


def ros_args(parameters: Mapping[str, object]) -> list[str]:
    """`--ros-args -p name:=value ...` for `parameters` (YAML-typed values: str, int, float, bool)."""
    args = ["--ros-args"]
    for name, value in parameters.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["-p", f"{name}:={text}"]
    return args


class NodeProcess:
    """One node in its own process; stops with SIGINT, then SIGTERM, then SIGKILL."""

    def __init__(self, package: str, executable: str, parameters: Mapping[str, object] | None = None,
                 env: Mapping[str, str] | None = None, log: IO[bytes] | int | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.env = dict(os.environ if env is None else env)
        require_safe(self.env, f"{package}/{executable}")
        self.command = [str(find_executable(package, executable, self.env)), *extra_args,
                        *ros_args(parameters or {})]
        self.name = executable
        self._log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> NodeProcess:
        self.process = subprocess.Popen(self.command, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT if self._log is not None else None)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "start() first"
        return self.process.pid

    def wait(self, timeout: float) -> int:
        assert self.process is not None, "start() first"
        return self.process.wait(timeout)

    def stop(self, grace_s: float = 5.0) -> int:
        """Ask the node to shut down cleanly; escalate if it does not. Returns its exit code."""
        if self.process is None:
            return 0
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            self.process.send_signal(sig)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                continue
        return self.process.wait()

    def __enter__(self) -> NodeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
