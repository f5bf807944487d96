"""Strategies: what the monitor does with a command that a detector flagged.

`Clamp` repairs the flagged joints and lets the next rule look at the result; `Hold` discards
the command for the hold pose and ends the pipeline (a hold is safe by construction); `Warn`
changes nothing and only lets the finding be reported. None remembers anything; `reset()` is there
so the monitor can reset every part alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dreamgen_core.safety.context import Context
from dreamgen_core.safety.events import Violation


class Strategy(Protocol):
    name: str
    terminal: bool  # True: the result is final, later rules are skipped

    def apply(self, command: dict[str, float], violations: Sequence[Violation], ctx: Context) -> dict[str, float]: ...

    def reset(self) -> None: ...


class _Stateless:
    def reset(self) -> None:
        """Nothing remembered between steps."""


class Clamp(_Stateless):
    """Replace each flagged joint's target by the violation's nearest acceptable value."""

    name = "clamped"
    terminal = False

    def apply(self, command: dict[str, float], violations: Sequence[Violation], ctx: Context) -> dict[str, float]:
        return {**command, **{v.joint: v.bound for v in violations if v.joint is not None and v.bound is not None}}


class Hold(_Stateless):
    """Drop the command; publish the hold pose (the measured pose when the hold began)."""

    name = "held"
    terminal = True

    def apply(self, command: dict[str, float], violations: Sequence[Violation], ctx: Context) -> dict[str, float]:
        return dict(ctx.hold_pose)


class Warn(_Stateless):
    """Report the finding, pass the command on unchanged (out-of-distribution targets)."""

    name = "warned"
    terminal = False

    def apply(self, command: dict[str, float], violations: Sequence[Violation], ctx: Context) -> dict[str, float]:
        return command
