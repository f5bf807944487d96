"""Another publisher on the robot command topic: commands that never passed the envelope.

The monitor must be the robot's only commander. It cannot silence another node, so it reports
the intruder and latches the e-stop: the robot holds while two voices fight over it, and an
operator decides what happens next.
"""

from __future__ import annotations


class PublisherGuard:
    def __init__(self, own: int = 1) -> None:
        self.own = own  # publishers of the monitor itself
        self.reset()

    def reset(self) -> None:
        self.foreign = 0

    def check(self, count: int) -> int | None:
        """The number of foreign publishers when it rose since the last check, else None."""
        foreign = max(count - self.own, 0)
        rose = foreign > self.foreign
        self.foreign = foreign
        return foreign if rose else None
