"""Source arbitration: exactly one command source (teleop or policy) reaches the robot at a time.

The selected source changes only through an explicit call (the monitor's select service), never
because another source started talking: commands of the other source are dropped and counted.
"""

from __future__ import annotations

TELEOP = "teleop"
POLICY = "policy"
SOURCES = (TELEOP, POLICY)


class SourceArbiter:
    def __init__(self, initial: str = TELEOP) -> None:
        if initial not in SOURCES:
            raise ValueError(f"unknown command source {initial!r}; known: {', '.join(SOURCES)}")
        self.initial = initial
        self.reset()

    def reset(self) -> None:
        self.selected = self.initial

    def select(self, source: str) -> str | None:
        """None when `source` is now selected, else why not."""
        if source not in SOURCES:
            return f"unknown command source {source!r}; known: {', '.join(SOURCES)}"
        self.selected = source
        return None

    def admits(self, source: str) -> bool:
        return source == self.selected
