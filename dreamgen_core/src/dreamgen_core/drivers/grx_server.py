"""The GRX server's Zenoh protocol, as fourier-grx-client 0.1.5 speaks it (read from its source).

Keys under the namespace (default `gr`):
- published by the server: `joint/position`, `joint/velocity` (msgpack-numpy float arrays, 32 body
  joints in driver order, degrees and degrees/s); the client keeps the last of each `<type>/<name>`.
- published by the client: `control/joints/position` (the same vector as a target, degrees).
- queries answered by the server (msgpack replies): `robot/info` (the client's liveness check, 1 s
  timeout: no reply means no robot), `control/enable` (payload "ON" / "OFF"), `control/gains`
  (payload {"control_mode", "kp", "kd"}: 32 each).
Plus dreamgen's stand-in hands (`hands.hand_key`), which Fourier's server does not have.

`GrxServer` holds no robot: it receives targets and publishes whatever state it is given, so the
sim stand-in (`grx_standin`) and tests drive it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import msgpack_numpy
import numpy as np
import zenoh

from dreamgen_core.drivers.hands import SIDES, hand_key
from dreamgen_core.drivers.zenoh_config import server_config

BODY_JOINTS = 32


@dataclass
class ServerState:
    """What clients asked of the server, for the robot behind it (and tests) to read."""

    target_deg: np.ndarray | None = None
    targets_received: int = 0
    hand_commands: dict[str, list[float]] = field(default_factory=dict)
    enabled: bool = False
    gains: dict[str, list] | None = None


class GrxServer:
    def __init__(self, address: str, namespace: str = "gr", info: dict[str, Any] | None = None) -> None:
        self.namespace = namespace
        self.info = info or {"robot": "GR1T2", "server": "dreamgen grx stand-in"}
        self.state = ServerState()
        self._lock = threading.Lock()
        self.session = zenoh.open(server_config(address))
        key = self.key
        self._queryables = [
            self.session.declare_queryable(key("robot/info"), self._on_info),
            self.session.declare_queryable(key("control/enable"), self._on_enable),
            self.session.declare_queryable(key("control/gains"), self._on_gains),
        ]
        self._subscribers = [self.session.declare_subscriber(key("control/joints/position"), self._on_target)]
        self._subscribers += [self.session.declare_subscriber(hand_key(namespace, side, "command"),
                                                              self._hand_listener(side)) for side in SIDES]
        self._position = self.session.declare_publisher(key("joint/position"))
        self._velocity = self.session.declare_publisher(key("joint/velocity"))
        self._hands = {side: self.session.declare_publisher(hand_key(namespace, side, "position")) for side in SIDES}

    def key(self, suffix: str) -> str:
        return f"{self.namespace}/{suffix}"

    def publish_joints(self, position_deg: np.ndarray, velocity_deg_s: np.ndarray) -> None:
        self._position.put(msgpack_numpy.packb(np.asarray(position_deg, dtype=np.float64)))
        self._velocity.put(msgpack_numpy.packb(np.asarray(velocity_deg_s, dtype=np.float64)))

    def publish_hand(self, side: str, values: Sequence[float]) -> None:
        self._hands[side].put(msgpack.packb([float(v) for v in values]))

    def take(self) -> ServerState:
        """A copy of what clients asked so far (thread-safe)."""
        with self._lock:
            s = self.state
            return ServerState(None if s.target_deg is None else s.target_deg.copy(), s.targets_received,
                               dict(s.hand_commands), s.enabled, s.gains)

    def _on_target(self, sample: Any) -> None:
        target = np.asarray(msgpack_numpy.unpackb(sample.payload), dtype=np.float64)
        if target.shape != (BODY_JOINTS,) or not np.all(np.isfinite(target)):
            return  # the real server's handling is unknown; the stand-in ignores a malformed target
        with self._lock:
            self.state.target_deg = target
            self.state.targets_received += 1

    def _hand_listener(self, side: str) -> Any:
        def on_command(sample: Any) -> None:
            with self._lock:
                self.state.hand_commands[side] = [float(v) for v in msgpack.unpackb(sample.payload)]
        return on_command

    def _on_info(self, query: zenoh.Query) -> None:
        self._reply(query, self.info)

    def _on_enable(self, query: zenoh.Query) -> None:
        command = msgpack.unpackb(query.value.payload) if query.value is not None else None
        if command not in ("ON", "OFF"):
            self._reply(query, {"status": "ERROR", "message": f"control/enable takes 'ON' or 'OFF', got {command!r}"})
            return
        with self._lock:
            self.state.enabled = command == "ON"
        self._reply(query, {"status": "OK", "enabled": command == "ON"})

    def _on_gains(self, query: zenoh.Query) -> None:
        gains = msgpack_numpy.unpackb(query.value.payload) if query.value is not None else None
        if not (isinstance(gains, dict) and all(len(gains.get(k, ())) == BODY_JOINTS
                                                for k in ("control_mode", "kp", "kd"))):
            self._reply(query, {"status": "ERROR", "message": "control/gains needs control_mode, kp, kd of 32"})
            return
        with self._lock:
            self.state.gains = {k: [float(v) for v in gains[k]] for k in ("control_mode", "kp", "kd")}
        self._reply(query, {"status": "OK"})

    def _reply(self, query: zenoh.Query, value: Any) -> None:
        query.reply(zenoh.Sample(query.key_expr, msgpack.packb(value)))

    def close(self) -> None:
        """Stop answering, as a robot server that went away. Zenoh frees the listener only when no
        handle refers to the session any more, so every handle is dropped here."""
        for entity in (*self._queryables, *self._subscribers, self._position, self._velocity, *self._hands.values()):
            entity.undeclare()
        self._queryables, self._subscribers, self._hands = [], [], {}
        self.session.close()
        del self._position, self._velocity, self.session
