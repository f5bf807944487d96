"""Fourier's `RobotClient`, with its own Zenoh listener on loopback only.

`RobotClient.__init__` builds its Zenoh config inline (connect to the server, scouting off) and
hands it to `ZenohSession.__init__`; `_LoopbackListener` sits between the two in the method
resolution order and adds `listen/endpoints` before the session opens. Everything else is the
library's own code: the same keys, payloads, services and state handling.
"""

from __future__ import annotations

import json

import zenoh
from fourier_grx_client import RobotClient
from fourier_grx_client.zenoh_utils import ZenohSession

from dreamgen_core.drivers.zenoh_config import CLIENT_LISTEN


class _LoopbackListener(ZenohSession):
    def __init__(self, prefix: str, config: zenoh.Config | None = None) -> None:
        config = config if config is not None else zenoh.Config()
        config.insert_json5("listen/endpoints", json.dumps([CLIENT_LISTEN]))
        super().__init__(prefix, config)


class GrxClient(RobotClient, _LoopbackListener):
    def __init__(self, namespace: str, server_ip: str) -> None:
        """Raises FourierConnectionError if the server does not answer `<namespace>/robot/info` in 1 s."""
        RobotClient.__init__(self, namespace=namespace, server_ip=server_ip)

    def close(self) -> None:
        # The library's close is not idempotent (a second call logs a traceback), and its __del__
        # calls it again after ours; it sets `session` to None once closed.
        if self.session is not None:
            super().close()
