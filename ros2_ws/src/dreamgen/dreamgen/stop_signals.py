"""SIGINT and SIGTERM ask a node to stop; they never interrupt it.

rclpy's own handlers shut the context down from inside the signal while a callback may still be
publishing ("publisher's context is invalid"), and Python's default SIGINT raises KeyboardInterrupt
wherever the interpreter is, imports included. These handlers only record the request; the spin
loop of `node_runtime.run_node` sees it between callbacks and shuts down in order.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


class StopRequest:
    """Records the first stop signal; a second one during shutdown is reported and otherwise ignored."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal: int | None = None
        for sig in self.SIGNALS:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum
        else:  # an impatient second Ctrl-C: shutdown is already under way and must finish
            print(f"[{signal.Signals(signum).name}] already shutting down", file=sys.stderr, flush=True)

    def ignore_further(self) -> None:
        """Once shutdown is done: Python's finalization resets its own handlers to the default action,
        so a late second signal would kill the exiting process (exit -15 instead of 0); ignored ones stay."""
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_IGN)

    @property
    def requested(self) -> bool:
        return self.signal is not None

    @property
    def reason(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else ""


_installed: StopRequest | None = None


def stop_request() -> StopRequest:
    """The process's one StopRequest, installed on first use."""
    global _installed  # noqa: PLW0603 - signal handlers are process-wide: one instance per process
    if _installed is None:
        _installed = StopRequest()
    return _installed
