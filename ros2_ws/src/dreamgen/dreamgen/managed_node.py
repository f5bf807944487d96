"""The lifecycle base of dreamgen's managed nodes: it owns every transition, subclasses fill in the work.

    configure -> setup()       (load, check; an exception refuses the transition, its message logged)
    activate  -> start()
    deactivate-> send_safe_state(), stop()
    cleanup   -> teardown()
    shutdown  -> send_safe_state(), stop() if active, teardown()   (also when the process is stopped)

Every stop records why, and the first reason wins: a node stopped because its inference crashed
and then shut down by the operator reports the crash. `request_stop(reason)` is how a node stops
itself from inside (a worker thread's fault): it records the reason and deactivates. With
`autostart` (default true) the node configures and activates itself; a lifecycle manager can drive
it through the standard lifecycle services instead.
"""

from __future__ import annotations

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from dreamgen.node_runtime import DreamgenNode

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class ManagedNode(DreamgenNode, LifecycleNode):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.active = False
        self.configured = False
        self.stop_reason: str | None = None
        self.failure: str | None = None  # why the last configure was refused
        self._autostart = bool(self.declare_parameter("autostart", True).value)

    def autostart(self) -> None:
        """Call at the end of a subclass's __init__: configure and activate when `autostart` is set."""
        if self._autostart:
            self.trigger_configure()
            if self.configured:
                self.trigger_activate()

    # --- what subclasses fill in ------------------------------------------------------------------
    def setup(self) -> None:
        """Configure: load and check everything; raise to refuse (the message says what to fix)."""

    def start(self) -> None:
        """Activate: begin the work."""

    def stop(self) -> None:
        """Deactivate: end the work (publish nothing more)."""

    def teardown(self) -> None:
        """Cleanup / shutdown: release what setup took."""

    def send_safe_state(self) -> None:
        """Before any stop: leave the robot safe (e.g. stop commanding so the safety monitor holds)."""

    # --- the transitions ------------------------------------------------------------------------
    def record_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self.get_logger().warning(f"stopping: {reason}")

    def request_stop(self, reason: str) -> None:
        """Stop from inside the node (call from the executor thread)."""
        self.record_stop(reason)
        if self.active:
            self.trigger_deactivate()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.setup()
        except Exception as exc:  # any refusal is a failed transition with its message
            self.failure = f"{type(exc).__name__}: {exc}"
            self.get_logger().error(f"configure refused: {self.failure}")
            return FAILURE
        self.configured, self.failure = True, None
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_reason = None
        self.start()
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.record_stop("deactivated")
        self._halt()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.teardown()
        self.configured = False
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState | None = None) -> TransitionCallbackReturn:  # type: ignore[override]
        """The lifecycle's shutdown transition, and run_node's call when the spin ends."""
        self.record_stop("shutdown")
        self._halt()
        if self.configured:
            self.teardown()
            self.configured = False
        return SUCCESS

    def _halt(self) -> None:
        was_active, self.active = self.active, False
        self.send_safe_state()
        if was_active:
            self.stop()
