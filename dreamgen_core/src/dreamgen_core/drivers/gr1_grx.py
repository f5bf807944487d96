"""The real GR1 through Fourier's `fourier-grx-client`: joints by name in rad in, targets out.

State: the client keeps the last `<ns>/joint/position` and `velocity` arrays it received in
`client.states["joint"]`; every sample is a new array, so `poll` publishes each one once (by
identity) and a server that goes quiet simply produces no more readings. `LinkMonitor` turns the
silence into LOST after `stale_after_s`; while LOST, commands are dropped (the robot is not sent
targets computed from a state nobody can see).

Connecting happens in a worker thread, every `retry_s`: the first connection (the robot may come
up after the driver), a periodic liveness query (`robot/info`, the client's own check) while UP,
and, when the link stayed LOST for `reconnect_after_s` (Zenoh reconnects a peer by itself, usually
within a second or two), a fresh client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dreamgen_core.calibration.robot import JointOffsets
from dreamgen_core.drivers.body_units import BodyUnits
from dreamgen_core.drivers.driver import JointReading, Link
from dreamgen_core.drivers.hands import HAND_ADAPTERS, SIDES, Hands, HandSite
from dreamgen_core.drivers.link import LinkMonitor
from dreamgen_core.embodiment.spec import Embodiment

HANDS_NONE = "none"


@dataclass(frozen=True)
class GrxSettings:
    server_ip: str = "127.0.0.1"
    namespace: str = "gr"
    hands: str = HANDS_NONE               # a HAND_ADAPTERS name, or "none"
    hand_ips: tuple[str, str] = ("192.168.137.19", "192.168.137.39")  # left, right (Fourier's defaults)
    stale_after_s: float = 0.1
    reconnect_after_s: float = 3.0
    retry_s: float = 1.0


class DriverError(RuntimeError):
    """A request the driver cannot carry out (not connected, a bad gains table)."""


def open_client(settings: GrxSettings) -> Any:
    from dreamgen_core.drivers.grx_client import GrxClient  # the grx extra: imported when used

    return GrxClient(namespace=settings.namespace, server_ip=settings.server_ip)


class Gr1GrxDriver:
    def __init__(self, spec: Embodiment, offsets: JointOffsets, settings: GrxSettings,
                 log: Callable[[str], None] = print,
                 connect: Callable[[GrxSettings], Any] = open_client) -> None:
        if settings.hands != HANDS_NONE:
            HAND_ADAPTERS.check(settings.hands, "gr1_driver", "hands")
        self.spec = spec
        self.settings = settings
        self.body = BodyUnits(spec, offsets)
        self.monitor = LinkMonitor(settings.stale_after_s, settings.reconnect_after_s)
        self._log = log
        self._connect = connect
        self._lock = threading.Lock()
        # Held around every query and around closing a client: a client closed while one of its
        # queries waits leaves that query waiting forever (zenoh 0.11 never ends its reply stream).
        self._query_lock = threading.RLock()
        self._client: Any = None
        self._hands: Hands | None = None
        self._last_sample: Any = None
        self._server_answers = False
        self._dropped = 0
        self._connections = 0
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._maintain, name="gr1_grx connect", daemon=True)

    # --- RobotDriver ---------------------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    @property
    def link(self) -> Link:
        return self.monitor.state

    def poll(self, now: float) -> JointReading | None:
        with self._lock:
            client, hands = self._client, self._hands
        joint = client.states["joint"] if client is not None else {}
        position, velocity = joint.get("position"), joint.get("velocity")
        if position is None or position is self._last_sample:
            self._note(self.monitor.check(now))
            return None
        self._last_sample = position
        self._note(self.monitor.sample(now))
        positions = self.body.positions(np.asarray(position, dtype=np.float64))
        velocities = (self.body.velocities(np.asarray(velocity, dtype=np.float64))
                      if velocity is not None and len(velocity) == len(self.body.joint_order) else {})
        if hands is not None:
            positions.update(hands.positions())
        return JointReading(positions, velocities)

    def command(self, targets: Mapping[str, float]) -> None:
        with self._lock:
            client, hands = self._client, self._hands
        if client is None or self.link is not Link.UP:
            self._dropped += 1
            return
        missing = [n for n in self.body.joint_order if n not in targets]
        if missing:
            raise DriverError(f"a body command needs every joint of the driver; missing {missing}")
        client.move_joints("all", self.body.command(targets), duration=0.0, degrees=True)
        if hands is not None:
            hands.command(targets)

    def set_enable(self, enable: bool) -> None:
        with self._query_lock:
            self._require_client().set_enable(enable)

    def set_gains(self, kp: Mapping[str, float], kd: Mapping[str, float]) -> Any:
        """Gains by joint name (the server's units), every body joint; returns the server's reply."""
        order = self.body.joint_order
        for table, name in ((kp, "kp"), (kd, "kd")):
            missing = [n for n in order if n not in table]
            if missing:
                raise DriverError(f"gains {name} misses joints {missing}")
        with self._query_lock:
            return self._require_client().set_gains(np.array([kp[n] for n in order]), np.array([kd[n] for n in order]))

    def status(self) -> dict[str, str]:
        age = self.monitor.age(time.monotonic())
        return {"link": self.link.value, "server": f"tcp/{self.settings.server_ip}:7447",
                "namespace": self.settings.namespace, "server_answers": str(self._server_answers),
                "state_age_s": "none" if age is None else f"{age:.3f}", "losses": str(self.monitor.losses),
                "connections": str(self._connections), "commands_dropped": str(self._dropped),
                "hands": self.settings.hands}

    def close(self) -> None:
        self._stop.set()
        if self._worker.is_alive():
            self._worker.join()  # its query ends within the client's 1 s timeout; then nothing else queries
        self._replace(None)

    # --- connection upkeep (worker thread) -------------------------------------------------------
    def _require_client(self) -> Any:
        with self._lock:
            client = self._client
        if client is None:
            raise DriverError(f"not connected to the GRX server at {self.settings.server_ip}")
        return client

    def _maintain(self) -> None:
        from fourier_grx_client.exceptions import FourierConnectionError

        while not self._stop.is_set():
            with self._lock:
                client = self._client
            now = time.monotonic()
            if client is None or self.monitor.reconnect_due(now):
                if client is not None:
                    self._log(f"link lost for {self.settings.reconnect_after_s:g} s: opening a new connection")
                    self._replace(None)
                    self.monitor.restarted(now)
                try:
                    self._replace(self._connect(self.settings))
                    self._connections += 1
                    self._server_answers = True
                    self._log(f"connected to the GRX server at tcp/{self.settings.server_ip}:7447 "
                              f"(namespace {self.settings.namespace})")
                except FourierConnectionError:
                    self._server_answers = False
            else:
                try:
                    with self._query_lock:
                        client.liveness_check()
                    self._server_answers = True
                except FourierConnectionError:
                    self._server_answers = False
            self._stop.wait(self.settings.retry_s)

    def _replace(self, client: Any) -> None:
        hands = self._open_hands(client) if client is not None else None
        with self._lock:
            old, old_hands = self._client, self._hands
            self._client, self._hands = client, hands
            self._last_sample = None
        with self._query_lock:
            if old_hands is not None:
                old_hands.close()
            if old is not None:
                old.close()

    def _open_hands(self, client: Any) -> Hands | None:
        if self.settings.hands == HANDS_NONE:
            return None
        adapter = HAND_ADAPTERS.load(self.settings.hands, "gr1_driver", "hands")
        devices = {side: adapter(HandSite(side, client.session, self.settings.namespace, ip))
                   for side, ip in zip(SIDES, self.settings.hand_ips)}
        return Hands(self.spec, devices)

    def _note(self, change: Link | None) -> None:
        if change is Link.LOST:
            self._log(f"no joint state from the GRX server for {self.settings.stale_after_s:g} s: link lost; "
                      "joint states stop, commands are dropped until it returns")
        elif change is Link.UP:
            self._log("joint states from the GRX server: link up")
