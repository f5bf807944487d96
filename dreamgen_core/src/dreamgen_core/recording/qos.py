"""Which QoS the recorder subscribes a topic with: what its publishers offer, as rosbag2 decides it.

Drivers publish the way they like: cameras often best effort (SensorDataQoS), ros2_control's
broadcasters reliable with depth 10. A reliable subscription never matches a best-effort publisher,
and the only trace is a WARN line in the log; a best-effort subscription to reliable publishers
throws away the redelivery they offer. So, like `ros2 bag record`, a topic configured `auto` is
subscribed reliable only when every publisher offers reliable, and transient-local only when every
one offers transient-local; history stays KEEP_ALL (see episode_recorder). An explicit `qos:` in the
config wins.

Publishers come and go. A subscription is (re)created while no episode records, so changing it can
lose nothing of an episode. During an episode it is never recreated: the gap between destroying
and re-creating it would lose messages of every publisher. A publisher that joins mid-episode
offering QoS the subscription cannot match is not recorded in that episode: the episode gets a QA
reason naming it (needs_review), and the subscription adapts as soon as the episode ends.

The offered profiles are kept in the bag in rosbag2's form (metadata.yaml and MCAP channel
metadata), so `ros2 bag play` replays each topic with the QoS it was published with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal

QosChoice = Literal["auto", "reliable", "sensor_data"]
INFINITE_NS = 2**63 - 1  # RMW_DURATION_INFINITE, which rosbag2 writes as sec 9223372036, nsec 854775807


class Reliability(str, Enum):
    RELIABLE = "reliable"
    BEST_EFFORT = "best_effort"

    def __str__(self) -> str:
        return self.value


class Durability(str, Enum):
    VOLATILE = "volatile"
    TRANSIENT_LOCAL = "transient_local"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Requested:
    """What a subscription asks for; the rest of its profile is the recorder's own (KEEP_ALL)."""
    reliability: Reliability
    durability: Durability = Durability.VOLATILE

    def __str__(self) -> str:
        return f"{self.reliability}/{self.durability}"


CONFIGURED = {"reliable": Requested(Reliability.RELIABLE), "sensor_data": Requested(Reliability.BEST_EFFORT)}


@dataclass(frozen=True)
class Offer:
    """One publisher's offered QoS, as the ROS graph reports it (durations in ns)."""
    node: str                    # fully qualified name of the publishing node
    reliability: Reliability
    durability: Durability
    history: str = "keep_last"   # rmw's names, lower case: keep_last, keep_all, system_default
    depth: int = 0
    deadline_ns: int = INFINITE_NS
    lifespan_ns: int = INFINITE_NS
    liveliness: str = "automatic"
    liveliness_lease_duration_ns: int = INFINITE_NS

    def __str__(self) -> str:
        return f"{self.reliability}/{self.durability}"

    def rosbag2(self) -> dict:
        """The profile as rosbag2 (Jazzy, metadata version 9) writes one `offered_qos_profiles` item."""
        return {"history": self.history, "depth": self.depth, "reliability": self.reliability.value,
                "durability": self.durability.value, "deadline": _duration(self.deadline_ns),
                "lifespan": _duration(self.lifespan_ns), "liveliness": self.liveliness,
                "liveliness_lease_duration": _duration(self.liveliness_lease_duration_ns),
                "avoid_ros_namespace_conventions": False}


def _duration(ns: int) -> dict[str, int]:
    sec, nsec = divmod(ns, 1_000_000_000)
    return {"sec": sec, "nsec": nsec}


def adapted(offers: Sequence[Offer]) -> Requested | None:
    """The most a subscription can ask for and still match every publisher; None with no publisher."""
    if not offers:
        return None
    reliable = all(o.reliability is Reliability.RELIABLE for o in offers)
    transient = all(o.durability is Durability.TRANSIENT_LOCAL for o in offers)
    return Requested(Reliability.RELIABLE if reliable else Reliability.BEST_EFFORT,
                     Durability.TRANSIENT_LOCAL if transient else Durability.VOLATILE)


def requested(choice: QosChoice, offers: Sequence[Offer]) -> Requested | None:
    """What to subscribe with: the configured QoS, or with `auto` what `offers` allow (None: wait)."""
    return adapted(offers) if choice == "auto" else CONFIGURED[choice]


def mismatch(offer: Offer, asked: Requested) -> str:
    """Why `offer` cannot serve a subscription asking `asked` (DDS request/offer rules); '' if it can."""
    found = []
    if asked.reliability is Reliability.RELIABLE and offer.reliability is not Reliability.RELIABLE:
        found.append("reliability")
    if asked.durability is Durability.TRANSIENT_LOCAL and offer.durability is not Durability.TRANSIENT_LOCAL:
        found.append("durability")
    if not found:
        return ""
    return f"publisher {offer.node} offers {offer}, requested {asked} (incompatible {' and '.join(found)})"


def why_silent(offers: Sequence[Offer], asked: Requested | None) -> str:
    """What the graph says about a topic that delivers nothing: no publisher, or which one cannot match."""
    if not offers:
        return "no publisher"
    if asked is None:
        return "not subscribed yet"
    return "; ".join(m for o in offers if (m := mismatch(o, asked)))


class Change(Enum):
    """What to do with a topic's subscription after a look at its publishers."""
    KEEP = "keep"
    SUBSCRIBE = "subscribe"      # (re)create it with the newly requested QoS now
    AFTER_EPISODE = "after_episode"  # it should change, but an episode is recording: change it at stop


def change(current: Requested | None, wanted: Requested | None, recording: bool) -> Change:
    """The adaptation rule over time. Publishers gone (`wanted` None) keep the subscription: they may
    come back. A first subscription loses nothing, so it is made at once, even mid-episode."""
    if wanted is None or wanted == current:
        return Change.KEEP
    if current is None or not recording:
        return Change.SUBSCRIBE
    return Change.AFTER_EPISODE
