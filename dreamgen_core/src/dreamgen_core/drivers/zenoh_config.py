"""Zenoh configurations of the GR1 bridge, and the check that they stay where they are meant to.

Fourier's client connects to `tcp/<server_ip>:7447` (a fixed port) with multicast and gossip
scouting off, but as a Zenoh peer it also listens on every interface. `GrxClient` is the library's
`RobotClient` with that listener moved to loopback; `server_config` is what the stand-in opens.
On this machine everything is loopback: tests give each stand-in its own 127.0.0.x address, since
the port cannot change.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import zenoh

GRX_PORT = 7447  # fixed by fourier_grx_client.RobotClient
CLIENT_LISTEN = "tcp/127.0.0.1:0"


def server_config(address: str) -> zenoh.Config:
    """A peer that listens on `address`:7447 only, finds nobody by scouting and connects nowhere."""
    config = zenoh.Config()
    config.insert_json5("mode", json.dumps("peer"))
    config.insert_json5("listen/endpoints", json.dumps([f"tcp/{address}:{GRX_PORT}"]))
    _no_scouting(config)
    return config


def _no_scouting(config: zenoh.Config) -> None:
    config.insert_json5("scouting/multicast/enabled", "false")
    config.insert_json5("scouting/gossip/enabled", "false")


def loopback_problems(config: Any) -> list[str]:
    """What in a session's config could reach beyond this machine: scouting on, or an endpoint
    (listen or connect) that is not a loopback address. Empty when it stays local."""
    problems = []
    for key in ("scouting/multicast/enabled", "scouting/gossip/enabled"):
        if json.loads(config.get_json(key)) is not False:
            problems.append(f"{key} is {config.get_json(key)}, not false")
    for key in ("listen/endpoints", "connect/endpoints"):
        endpoints = json.loads(config.get_json(key))
        if key == "listen/endpoints" and not endpoints:
            problems.append("listen/endpoints is empty: a peer then listens on every interface")
        for endpoint in endpoints:
            host = endpoint.split("/", 1)[-1].rsplit(":", 1)[0].strip("[]")
            if not ipaddress.ip_address(host).is_loopback:
                problems.append(f"{key} has {endpoint}, not a loopback address")
    return problems
