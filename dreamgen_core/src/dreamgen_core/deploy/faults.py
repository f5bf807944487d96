"""Fault injection at the policy's boundary, for the fault-injection tests and drills on a robot:
a real runtime whose answers are corrupted, delayed or withheld on purpose from a given call on.

    plan = FaultPlan.parse("nan@5")   # from the 5th chunk on: NaN actions
    plan = FaultPlan.parse("crash@3") # the 3rd call raises
    plan = FaultPlan.parse("hang@3")  # the 3rd call never returns (until the node stops)
    plan = FaultPlan.parse("slow:2.0") # every call takes 2 s longer
    plan = FaultPlan.parse("offset:3.0@4") # from the 4th chunk on: +3 rad on every joint (out of limits)
The empty plan changes nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from dreamgen_core.deploy.errors import DeployError

KINDS = ("nan", "crash", "hang", "slow", "offset")


class InjectedCrash(RuntimeError):
    """The crash a FaultPlan asked for."""


@dataclass(frozen=True)
class FaultPlan:
    kind: str = ""
    value: float = 0.0
    from_call: int = 1

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        if not text:
            return cls()
        head, _, at = text.partition("@")
        kind, _, value = head.partition(":")
        if kind not in KINDS:
            raise DeployError(f"fault {text!r}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
        try:
            return cls(kind, float(value or 0.0), int(at or 1))
        except ValueError:
            raise DeployError(f"fault {text!r}: expected KIND[:VALUE][@CALL], e.g. nan@5 or slow:2.0") from None

    def apply(self, call: int, chunk: np.ndarray, stop: threading.Event) -> np.ndarray:
        """`chunk` of the `call`-th inference (1-based) as the plan corrupts it."""
        if not self.kind or call < self.from_call:
            return chunk
        if self.kind == "nan":
            return np.full_like(chunk, np.nan)
        if self.kind == "crash":
            raise InjectedCrash(f"injected crash at inference call {call}")
        if self.kind == "hang":
            stop.wait()
            raise InjectedCrash("injected hang ended by stop")
        if self.kind == "slow":
            time.sleep(self.value)
            return chunk
        return chunk + np.float32(self.value)
