"""Run a ROS 2 executable of a colcon-installed package as a child process, like `ros2 run`.

This is how dreamgen's tooling (tests, the demo, the stack runner) starts nodes, so it is where
the network policy is enforced: a process whose environment is not loopback-only on a private
domain is refused before it starts. It is also where the transport profile is applied (unless the
environment names one), so every node of a test, the demo or `dreamgen-stack` gets it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from typing_extensions import Self

from dreamgen_core.ros.discovery import require_safe
from dreamgen_core.ros.transport import with_transport


def _prefixes(env: Mapping[str, str]) -> list[str]:
    return [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]


def _not_found(what: str, env: Mapping[str, str]) -> FileNotFoundError:
    where = ", ".join(_prefixes(env)) or "AMENT_PREFIX_PATH is empty"
    return FileNotFoundError(f"no {what} in {where}; build ros2_ws and source ros2_ws/install/setup.bash "
                             "(make does both)")


def find_executable(package: str, executable: str, env: Mapping[str, str]) -> Path:
    """`<prefix>/lib/<package>/<executable>` from AMENT_PREFIX_PATH, as `ros2 run` resolves it."""
    for prefix in _prefixes(env):
        path = Path(prefix) / "lib" / package / executable
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise _not_found(f"executable {executable!r} of package {package!r}", env)


def find_share(package: str, env: Mapping[str, str]) -> Path:
    """`<prefix>/share/<package>`, as ament_index resolves it (launch and config files live there)."""
    for prefix in _prefixes(env):
        path = Path(prefix) / "share" / package
        if (path / "package.xml").is_file():
            return path
    raise _not_found(f"share directory of package {package!r}", env)


def ros_args(parameters: Mapping[str, object], node_name: str | None = None) -> list[str]:
    """`--ros-args [-r __node:=name] -p name:=value ...` (values YAML-typed: str, int, float, bool)."""
    args = ["--ros-args"] + (["-r", f"__node:={node_name}"] if node_name else [])
    for name, value in parameters.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["-p", f"{name}:={text}"]
    return args


class NodeProcess:
    """One node in its own process; stops with SIGINT, then SIGTERM, then SIGKILL."""

    def __init__(self, package: str, executable: str, parameters: Mapping[str, object] | None = None,
                 env: Mapping[str, str] | None = None, log: IO[bytes] | int | None = None,
                 name: str | None = None, stdin: int | None = None) -> None:
        self.env = with_transport(os.environ if env is None else env)
        require_safe(self.env, f"{package}/{executable}")
        self.command = [str(find_executable(package, executable, self.env)), *ros_args(parameters or {}, name)]
        self.name = name or executable
        self._log, self._stdin = log, stdin
        self.process: subprocess.Popen | None = None

    def start(self) -> NodeProcess:
        self.process = subprocess.Popen(self.command, env=self.env, stdin=self._stdin, stdout=self._log,
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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
