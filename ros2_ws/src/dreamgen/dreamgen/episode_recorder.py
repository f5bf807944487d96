"""episode_recorder: records teleop episodes as rosbag2 MCAP bags, with live QA and crash safety.

A thin node over dreamgen_core.recording.Recorder. Subscriptions are raw (CDR bytes go to the bag
untouched); services start/stop/discard episodes; `~/status` (JSON) and /diagnostics report state
and QA at 1 Hz on a steady timer (so a paused sim does not silence them). SIGINT/SIGTERM close the
open episode as `interrupted`. With `check_s > 0` it records nothing: it watches the graph and the
traffic for that long, prints one line per topic (dreamgen_core.recording.graph_check) and exits 0
when every required topic is ready, 1 if not (what `dreamgen doctor` runs).

QoS: each topic is subscribed with what its publishers offer (reliable only when every one offers
reliable, as rosbag2 does; an explicit `qos:` in the config wins), looked at twice a second and
changed only while no episode records: the rule and why are in dreamgen_core.recording.qos.
History is KEEP_ALL whatever the publishers offer. DDS acknowledges a sample once it is in the
reader's history, whatever our executor is doing; a KEEP_LAST history overwrites samples the
executor has not taken yet when a 2.6 MB image write or another process delays it, and that loss
is silent. KEEP_ALL never overwrites: a full history pushes back on the reliable writer instead.
The node spins on rclpy's C++ EventsExecutor: half the CPU per message of the default executor, so
the recorder keeps up on a busy robot computer (benchmarks/recorder_load.py).
"""

from __future__ import annotations

import importlib
import json
import os
import time
from functools import partial
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.experimental import EventsExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from rclpy.topic_endpoint_info import TopicEndpointInfo
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from dreamgen.node_runtime import DreamgenNode, main_for
from dreamgen_core.bag import PARTIAL_SUFFIX
from dreamgen_core.recording import EpisodeQa, Outcome, Recorder, Refused, load_recording_config
from dreamgen_core.recording.graph_check import CHECK_PREFIX, Level, check_graph
from dreamgen_core.recording.qos import Change, Durability, Offer, Reliability, Requested, change, requested
from dreamgen_core.ros.transport import host_problems

RELIABILITY = {Reliability.RELIABLE: ReliabilityPolicy.RELIABLE, Reliability.BEST_EFFORT: ReliabilityPolicy.BEST_EFFORT}
DURABILITY = {Durability.VOLATILE: DurabilityPolicy.VOLATILE, Durability.TRANSIENT_LOCAL: DurabilityPolicy.TRANSIENT_LOCAL}
GRAPH_PERIOD_S = 0.5  # how soon a new publisher is subscribed to (there is no graph event in rclpy)
# Check mode judges traffic once every topic with a publisher delivers (subscriptions matched), or
# after this long at most.
CHECK_SETTLE_S = 5.0


def message_class(msgtype: str) -> type:
    package, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


def subscription_qos(asked: Requested) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=RELIABILITY[asked.reliability],
                      durability=DURABILITY[asked.durability])


def offer(info: TopicEndpointInfo) -> Offer:
    q = info.qos_profile
    reliable, transient = q.reliability == ReliabilityPolicy.RELIABLE, q.durability == DurabilityPolicy.TRANSIENT_LOCAL
    return Offer(f"{info.node_namespace.rstrip('/')}/{info.node_name}",
                 Reliability.RELIABLE if reliable else Reliability.BEST_EFFORT,
                 Durability.TRANSIENT_LOCAL if transient else Durability.VOLATILE,
                 q.history.name.lower(), q.depth, q.deadline.nanoseconds, q.lifespan.nanoseconds,
                 q.liveliness.name.lower(), q.liveliness_lease_duration.nanoseconds)


def default_config() -> Path:
    return Path(get_package_share_directory("dreamgen")) / "config" / "recording.yaml"


class EpisodeRecorderNode(DreamgenNode):
    def __init__(self) -> None:
        super().__init__("episode_recorder")
        config = str(self.declare_parameter("config", "").value) or str(default_config())
        output_dir = str(self.declare_parameter("output_dir", "").value)
        calibration_dir = str(self.declare_parameter("calibration_dir", "").value)
        self.instruction = str(self.declare_parameter("instruction", "").value)
        cfg = load_recording_config(Path(config), self.spec)
        self.operator = str(self.declare_parameter("operator", cfg.operator).value)
        self.recorder = Recorder(cfg, self.spec.name, self.spec.content_hash,
                                 Path(output_dir) if output_dir else None,
                                 Path(calibration_dir) if calibration_dir else None)
        self.add_on_set_parameters_callback(self.on_parameters)
        self.topic_subscriptions: list[Subscription | None] = [None] * len(cfg.topics)
        self.look_at_graph()
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(GRAPH_PERIOD_S, self.look_at_graph, clock=self.steady)
        self.create_subscription(String, "~/instruction", self.on_instruction, 10)
        self.create_service(Trigger, "~/start", self.on_start)
        self.create_service(SetBool, "~/stop", self.on_stop)
        self.create_service(Trigger, "~/discard", self.on_discard)
        self.status_pub = self.create_publisher(String, "~/status", 10)
        self.diagnostics = self.create_publisher(DiagnosticArray, self.spec.ros.diagnostics.name, 10)
        self.create_timer(1.0, self.tick, clock=self.steady)
        self.check_qa: EpisodeQa | None = None
        check_s = float(self.declare_parameter("check_s", 0.0, ParameterDescriptor(dynamic_typing=True)).value)
        if check_s > 0:
            self.check_settled_by = time.monotonic() + CHECK_SETTLE_S
            self.check_timer = self.create_timer(GRAPH_PERIOD_S, partial(self.check_begin, check_s), clock=self.steady)
        out = self.recorder.output_dir
        self.get_logger().info(f"recording {len(cfg.topics)} topics from {config} into {out}")
        for problem in host_problems(os.environ):  # what the transport profile needs of this host
            self.get_logger().warning(str(problem))
        stale = sorted(out.glob(f"*{PARTIAL_SUFFIX}")) if out.is_dir() else []
        if stale:
            self.get_logger().warning(f"{len(stale)} unfinished episode(s) in {out} from a recorder that died: "
                                      f"run `dreamgen bag recover {out}`")

    def look_at_graph(self) -> None:
        """Subscribe each topic with what its publishers offer now. Mid-episode a change waits for the
        stop (Change.AFTER_EPISODE: the next look after it); the recorder makes the episode need
        review if a publisher cannot match meanwhile."""
        for i, t in enumerate(self.recorder.cfg.topics):
            offers = tuple(offer(p) for p in self.get_publishers_info_by_topic(t.topic))
            wanted, current = requested(t.qos, offers), self.recorder.asked[i]
            decision = change(current, wanted, recording=self.recorder.episode is not None)
            if decision is Change.SUBSCRIBE and wanted is not None:
                self.subscribe(i, wanted)
                current = wanted
            self.recorder.graph(i, offers, current)

    def subscribe(self, index: int, asked: Requested) -> None:
        t = self.recorder.cfg.topics[index]
        old = self.topic_subscriptions[index]
        if old is not None:
            self.destroy_subscription(old)
        self.topic_subscriptions[index] = self.create_subscription(
            message_class(t.type), t.topic, partial(self.on_message, index), subscription_qos(asked), raw=True)
        self.get_logger().info(f"{t.topic}: subscribed {asked}")

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def on_message(self, index: int, data: bytes) -> None:
        self.recorder.observe(index, self.now_ns(), time.time_ns(), data)
        if self.check_qa is not None:
            self.check_qa.observe(index, self.now_ns(), data)

    def check_begin(self, check_s: float) -> None:
        # Discovery can lag the doctor's start: wait (up to CHECK_SETTLE_S) until every required topic and
        # every topic someone publishes has delivered, so a publisher still being matched is not "silent".
        flowing = all(seen is not None for seen, offers, topic in
                      zip(self.recorder.last_seen, self.recorder.offers, self.recorder.cfg.topics)
                      if offers or topic.required)
        if not flowing and time.monotonic() < self.check_settled_by:
            return
        self.destroy_timer(self.check_timer)
        self.check_qa = EpisodeQa(self.recorder.cfg, self.now_ns())
        self.check_timer = self.create_timer(check_s, self.check_conclude, clock=self.steady)

    def check_conclude(self) -> None:
        assert self.check_qa is not None
        findings = check_graph(self.recorder.cfg, self.recorder.offers, self.recorder.asked,
                               self.check_qa.report(self.now_ns()))
        print("\n".join(f"{CHECK_PREFIX}{f}" for f in findings), flush=True)
        self.finish(1 if any(f.level is Level.FAIL for f in findings) else 0)

    def on_instruction(self, msg: String) -> None:
        self.instruction = msg.data

    def on_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for p in params:
            if p.name in ("instruction", "operator"):
                setattr(self, p.name, str(p.value))
        return SetParametersResult(successful=True)

    def on_start(self, _: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            name = self.recorder.start(self.instruction, self.operator, self.now_ns(), time.time_ns())
        except Refused as exc:
            response.success, response.message = False, str(exc)
            self.get_logger().warning(f"start refused: {exc}")
            return response
        response.success, response.message = True, name
        self.get_logger().info(f"recording {name}: {self.instruction!r}")
        return response

    def on_stop(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        outcome = Outcome.SUCCESS if request.data else Outcome.FAILURE
        try:
            closed = self.recorder.stop(outcome, self.now_ns(), time.time_ns())
        except Refused as exc:
            response.success, response.message = False, str(exc)
            return response
        response.success = True
        response.message = json.dumps({"episode": closed.name, "outcome": outcome, "qa": closed.verdict,
                                       "reasons": closed.reasons})
        self.get_logger().info(f"stopped {closed.name} ({outcome}), QA {closed.verdict}"
                               + "".join(f"\n  {r}" for r in closed.reasons))
        return response

    def on_discard(self, _: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            response.message = self.recorder.discard()
            response.success = True
        except Refused as exc:
            response.success, response.message = False, str(exc)
        return response

    def tick(self) -> None:
        stopped = self.recorder.check_disk(self.now_ns(), time.time_ns())
        if stopped is not None:
            self.get_logger().error(f"stopped {stopped.name}: disk space below "
                                    f"{self.recorder.cfg.min_free_disk_mb} MB")
        status = self.recorder.status(self.now_ns())
        self.status_pub.publish(String(data=json.dumps(status)))
        self.publish_diagnostics(status)
        self.log_closed()

    def publish_diagnostics(self, status: dict) -> None:
        reasons = status.get("qa", {}).get("reasons", [])
        d = DiagnosticStatus(level=DiagnosticStatus.WARN if reasons else DiagnosticStatus.OK,
                             name="dreamgen/episode_recorder", hardware_id=self.spec.name,
                             message="; ".join(reasons) or status["state"])
        values = {"state": status["state"], "episode": status["episode"] or "", "elapsed_s": status["elapsed_s"],
                  **{f"{name} rate_hz": t.get("rate_hz", "") for name, t in status["topics"].items()}}
        d.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        msg = DiagnosticArray(status=[d])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(msg)

    def log_closed(self) -> None:
        for closed in self.recorder.take_closed():
            if closed.error:
                self.get_logger().error(f"episode {closed.name} failed to close: {closed.error}; "
                                        f"run `dreamgen bag recover {self.recorder.output_dir}`")
            elif closed.path:
                self.get_logger().info(f"saved {closed.path} {closed.counts}")

    def on_shutdown(self) -> None:
        if self.recorder.episode is not None:
            closed = self.recorder.stop(Outcome.INTERRUPTED, self.now_ns(), time.time_ns(),
                                        "recorder shut down (SIGINT/SIGTERM)")
            self.get_logger().info(f"closing {closed.name} as interrupted")
        self.recorder.wait_closed()
        self.log_closed()


main = main_for(EpisodeRecorderNode, EventsExecutor)
