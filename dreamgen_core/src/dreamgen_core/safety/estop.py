"""The e-stop latch: once /safety/estop says True the monitor holds until an explicit reset.

Releasing the button (False on the topic) does not release the robot: someone must call the reset
service, and the reset is refused while the button is still pressed. Why a latch: an e-stop that
lifts itself when a flaky publisher stops would restart a policy nobody is watching.
"""

from __future__ import annotations


class EstopLatch:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.engaged = False  # latched: the monitor holds
        self.pressed = False  # the last value on the e-stop input
        self.reason = ""

    def press(self, reason: str) -> bool:
        """Latch (True if it was not latched yet: the caller reports it once)."""
        self.pressed = True
        newly = not self.engaged
        if newly:
            self.engaged, self.reason = True, reason
        return newly

    def trip(self, reason: str) -> bool:
        """Latch from inside the monitor (a fault, not the button): reset needs no release first."""
        newly = not self.engaged
        if newly:
            self.engaged, self.reason = True, reason
        return newly

    def release_input(self) -> None:
        self.pressed = False

    def clear(self) -> str | None:
        """The reset service: None when cleared, else why not."""
        if self.pressed:
            return "the e-stop input is still pressed (publish False on the e-stop topic first)"
        self.engaged, self.reason = False, ""
        return None
