"""Hand joints in rad ↔ the hand SDK's command units, and the adapters that reach a hand.

The spec gives each commanded hand joint a `command` range (e.g. 0 open … 1 closed, normalized).
The conversion is linear between the joint's open angle and its closed angle: open is the URDF
limit nearest 0 rad (the URDF's zero pose is the open hand), closed the other limit. Readings go
back the same way. This is the single place that knows it; the adapters below only move the SDK's
numbers, in the order of the spec's hand group (its layout slots: pinky, ring, middle, index,
thumb pitch, thumb yaw).

Adapters (`HANDS` registry, picked by the driver node's `hands` parameter):
- `standin`: the sim stand-in's hands over the robot's Zenoh session, on keys that only
  dreamgen's stand-in serves (`<ns>/dreamgen_hand/<side>/{command,position}`); tests and the demo.
- `fourier_dhx`: Fourier's hand SDK (`fourier_dhx.sdk.DexHand`, one per hand IP). It cannot be
  installed here, so it is untested: its native units may differ from the spec's range.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgpack

from dreamgen_core.embodiment.spec import Embodiment
from dreamgen_core.optional import require
from dreamgen_core.registry import Registry

SIDES = ("left", "right")


@dataclass(frozen=True)
class HandJoint:
    name: str
    open_rad: float
    closed_rad: float
    command_lower: float  # SDK units at open
    command_upper: float  # SDK units at closed


class HandUnits:
    """Conversion for one hand (the joints of the spec's `<side>_hand` layout group, in slot order)."""

    def __init__(self, spec: Embodiment, side: str) -> None:
        group = next((g for g in spec.layout if g.group == f"{side}_hand"), None)
        if group is None:
            raise KeyError(f"embodiment {spec.name!r} has no layout group {side}_hand")
        self.joints: list[HandJoint] = []
        for name in group.joints:
            joint = spec.joints[name]
            if joint.command is None:
                raise KeyError(f"embodiment {spec.name!r}: hand joint {name!r} has no command range")
            open_rad, closed_rad = ((joint.lower, joint.upper) if abs(joint.lower) <= abs(joint.upper)
                                    else (joint.upper, joint.lower))
            self.joints.append(HandJoint(name, open_rad, closed_rad, joint.command.lower, joint.command.upper))

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    def to_sdk(self, targets: Mapping[str, float]) -> list[float]:
        """Angles in rad by name → SDK commands in slot order, clipped to the command range."""
        out = []
        for j in self.joints:
            fraction = (targets[j.name] - j.open_rad) / (j.closed_rad - j.open_rad)
            fraction = min(max(fraction, 0.0), 1.0)
            out.append(j.command_lower + fraction * (j.command_upper - j.command_lower))
        return out

    def from_sdk(self, values: Sequence[float]) -> dict[str, float]:
        """SDK readings in slot order → angles in rad by name."""
        if len(values) != len(self.joints):
            raise ValueError(f"hand reading has {len(values)} values, expected {len(self.joints)} ({self.names})")
        out = {}
        for j, value in zip(self.joints, values):
            fraction = (float(value) - j.command_lower) / (j.command_upper - j.command_lower)
            out[j.name] = j.open_rad + fraction * (j.closed_rad - j.open_rad)
        return out


class HandDevice(Protocol):
    """One hand, in SDK units and slot order."""

    def send(self, command: Sequence[float]) -> None: ...

    def latest(self) -> list[float] | None:
        """The newest reading, or None before the first."""

    def close(self) -> None: ...


class Hands:
    """Both hands: rad by name in and out, whichever device reaches them."""

    def __init__(self, spec: Embodiment, devices: Mapping[str, HandDevice]) -> None:
        self.units = {side: HandUnits(spec, side) for side in devices}
        self.devices = dict(devices)

    def command(self, targets: Mapping[str, float]) -> None:
        """Sends each hand whose joints are all in `targets`."""
        for side, units in self.units.items():
            if all(n in targets for n in units.names):
                self.devices[side].send(units.to_sdk(targets))

    def positions(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for side, units in self.units.items():
            reading = self.devices[side].latest()
            if reading is not None:
                out.update(units.from_sdk(reading))
        return out

    def close(self) -> None:
        for device in self.devices.values():
            device.close()


def hand_key(namespace: str, side: str, what: str) -> str:
    """Zenoh key of the stand-in's hand `what` (command | position): dreamgen's, not Fourier's."""
    return f"{namespace}/dreamgen_hand/{side}/{what}"


@dataclass(frozen=True)
class HandSite:
    """Where one hand is reached: every adapter takes this and uses what it needs."""

    side: str
    session: Any     # the robot client's open Zenoh session
    namespace: str   # the robot's key prefix
    ip: str          # the hand's own address (Fourier hands are separate network devices)


class StandInHand:
    """A stand-in hand over the robot client's Zenoh session: msgpack lists of floats."""

    def __init__(self, site: HandSite) -> None:
        self._lock = threading.Lock()
        self._latest: list[float] | None = None
        self._publisher = site.session.declare_publisher(hand_key(site.namespace, site.side, "command"))
        self._subscriber = site.session.declare_subscriber(hand_key(site.namespace, site.side, "position"),
                                                           self._on_sample)

    def _on_sample(self, sample: Any) -> None:
        values = [float(v) for v in msgpack.unpackb(sample.payload)]
        with self._lock:
            self._latest = values

    def send(self, command: Sequence[float]) -> None:
        self._publisher.put(msgpack.packb([float(v) for v in command]))

    def latest(self) -> list[float] | None:
        with self._lock:
            return self._latest

    def close(self) -> None:
        self._subscriber.undeclare()
        self._publisher.undeclare()


class FourierDhxHand:
    """Fourier's hand SDK: `DexHand(ip).set_angle(0, values)` / `get_angle()` (public examples of
    fourier-dhx). Not installable here, so untested; check its units against the spec first."""

    def __init__(self, site: HandSite) -> None:
        sdk = require("fourier_dhx.sdk.DexHand", "the Fourier hand adapter (hands: fourier_dhx)")
        self._hand = sdk.DexHand(site.ip)

    def send(self, command: Sequence[float]) -> None:
        self._hand.set_angle(0, [float(v) for v in command])

    def latest(self) -> list[float] | None:
        reading = self._hand.get_angle()
        return [float(v) for v in reading] if isinstance(reading, list) else None

    def close(self) -> None:
        """The SDK keeps no session to close."""


HAND_ADAPTERS = Registry("hand adapter", {
    "standin": "dreamgen_core.drivers.hands:StandInHand",
    "fourier_dhx": "dreamgen_core.drivers.hands:FourierDhxHand",
})
