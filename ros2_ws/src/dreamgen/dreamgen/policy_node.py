"""The policy on the robot: a managed (lifecycle) node that publishes only /policy/joint_command.

configure: loads the policy (`policy`: an exported POLICY_DIR, or a training checkpoint for the
  torch runtime) through `load_runtime`, after checking that its embodiment hash (and calibration
  hash, when it records one) is the robot's: a mismatch refuses the transition with a message.
activate: embeds `instruction` (read at each activation), starts the inference thread and the loop.
deactivate: stops publishing (the safety monitor then holds the pose on silence).

At the control rate the loop hands the latest observation (assembled by the converter's rules,
`deploy.ObservationAssembler`) to the inference thread when the `ChunkExecutor` asks for a chunk,
submits finished chunks (stamped with their observation's capture time) and publishes the target
due now, its header stamped with that observation time (the monitor's chunk-age check). Latency,
queue depth and chunk age go to /diagnostics at 1 Hz. `fault` injects a fault at the runtime's
boundary (`deploy.faults`: nan@N, crash@N, hang@N, slow:S, offset:RAD@N) for drills and tests.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState

from dreamgen.managed_node import ManagedNode
from dreamgen.node_runtime import main_for
from dreamgen_core.config import read_yaml
from dreamgen_core.convert import ConvertConfig
from dreamgen_core.deploy import ChunkConfig, ChunkExecutor
from dreamgen_core.deploy.compat import check_policy_fits
from dreamgen_core.deploy.errors import DeployError
from dreamgen_core.deploy.faults import FaultPlan
from dreamgen_core.deploy.observation import Observation, ObservationAssembler

COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
MANIFESTS = ("policy.yaml", "policy_config.yaml")  # exported policy, training checkpoint


def stamp_ns(msg_stamp, fallback_ns: int) -> int:  # type: ignore[no-untyped-def]
    ns = msg_stamp.sec * 1_000_000_000 + msg_stamp.nanosec
    return ns if ns > 0 else fallback_ns


class PolicyNode(ManagedNode):
    def __init__(self) -> None:
        super().__init__("policy_node")
        p = self.declare_parameter
        self.policy_path = Path(str(p("policy", "").value))
        self.runtime_name = str(p("runtime", "onnxruntime").value)
        self.instruction = str(p("instruction", "").value)
        self.calibration_hash = str(p("calibration_hash", "").value) or None
        self.blend = str(p("blend", "crossfade").value)
        self.seed = int(p("seed", 0).value)
        self.max_failures = int(p("max_inference_failures", 3).value)
        self.fault = FaultPlan.parse(str(p("fault", "").value))
        self.runtime = None
        self.chunker: ChunkExecutor | None = None
        # The converter's tolerances: an observation the converter would call a gap is none here either.
        rules = ConvertConfig()
        self.assembler = ObservationAssembler(self.spec, rules.state_tolerance_s, rules.image_tolerance_s)
        self.requests: queue.Queue[Observation] = queue.Queue(maxsize=1)
        # (activation, chunk or None, observation stamp s, latency s, error): a worker left behind by an
        # earlier activation (a hung call that returned late) cannot feed this one.
        self.results: deque[tuple[int, np.ndarray | None, float, float, str]] = deque()
        self.activation = 0
        self.halt = threading.Event()
        self.worker: threading.Thread | None = None
        self.failures = self.calls = self.published = 0
        self.latencies: deque[float] = deque(maxlen=200)
        self.last_problem = ""
        self.hung_reported = False
        ros = self.spec.ros
        self.output = self.create_publisher(JointState, ros.policy_command.name, COMMAND_QOS)
        self.diagnostics = self.create_publisher(DiagnosticArray, ros.diagnostics.name, 10)
        self.create_subscription(JointState, ros.joint_states.name, self.on_joint_state, qos_profile_sensor_data)
        for camera in self.spec.cameras.values():
            key = camera.model_view.video_key
            self.create_subscription(Image, camera.topic, lambda m, k=key: self.on_image(m, k), qos_profile_sensor_data)
        self.create_timer(1.0 / self.spec.rates.control_hz, self.on_tick)
        self.create_timer(1.0, self.publish_diagnostics)
        self.autostart()

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    # --- lifecycle work ---------------------------------------------------------------------------
    def setup(self) -> None:
        from dreamgen_core.policy.runtime import load_runtime  # torch/onnxruntime load only when configured

        manifest = next((self.policy_path / name for name in MANIFESTS if (self.policy_path / name).is_file()), None)
        if manifest is None:
            raise DeployError(f"policy {str(self.policy_path)!r}: no {' or '.join(MANIFESTS)} there; "
                              "set the `policy` parameter to an exported policy directory")
        check_policy_fits(read_yaml(manifest), self.spec, self.calibration_hash, str(manifest))
        self.runtime = load_runtime(self.policy_path, self.runtime_name, spec=self.spec)
        warming = time.perf_counter()
        self.runtime.warmup()  # here, not on the first live call: a cold call (allocation, kernel choice) is slow
        horizon = int(self.runtime.manifest.horizon)
        self.chunker = ChunkExecutor(ChunkConfig.from_spec(self.spec, horizon, blend=self.blend))
        self.get_logger().info(f"policy {self.policy_path} on {self.runtime.backend}: horizon {horizon}, "
                               f"blend {self.blend}, warmed up in {time.perf_counter() - warming:.2f} s, "
                               f"publishing {self.spec.ros.policy_command.name}")

    def start(self) -> None:
        assert self.runtime is not None and self.chunker is not None
        # Read at every activation: an operator (or deploy_director) sets the next task's instruction
        # between a deactivate and an activate.
        self.instruction = str(self.get_parameter("instruction").value)
        self.runtime.start_episode(self.instruction)
        self.chunker.reset()
        self.results.clear()
        self.failures, self.hung_reported = 0, False
        # Fresh per activation: the previous worker keeps its own (set) halt event and request queue.
        self.activation += 1
        self.halt, self.requests = threading.Event(), queue.Queue(maxsize=1)
        self.worker = threading.Thread(target=self.infer_loop, name="inference", daemon=True)
        self.worker.start()
        self.get_logger().info(f"active: {self.instruction!r}")

    def stop(self) -> None:
        self.halt.set()  # a hung inference call cannot be interrupted: the daemon thread is left behind

    def teardown(self) -> None:
        self.runtime = None

    def send_safe_state(self) -> None:
        # Publishing nothing is the safe state: the monitor holds the measured pose after its timeout.
        self.halt.set()

    # --- inference thread -----------------------------------------------------------------------
    def infer_loop(self) -> None:
        halt, runtime, requests, activation = self.halt, self.runtime, self.requests, self.activation
        assert runtime is not None
        while not halt.is_set():
            try:
                obs = requests.get(timeout=0.1)
            except queue.Empty:
                continue
            self.calls += 1
            started = time.perf_counter()
            try:
                chunk = runtime.act(obs.images, obs.state, seed=self.seed * 100_003 + self.calls)
                chunk = self.fault.apply(self.calls, chunk, halt)
                self.results.append((activation, chunk, obs.stamp_ns * 1e-9, time.perf_counter() - started, ""))
            except Exception as exc:  # reported by the control loop, which decides
                self.results.append((activation, None, obs.stamp_ns * 1e-9, time.perf_counter() - started,
                                     f"{type(exc).__name__}: {exc}"))

    # --- inputs ---------------------------------------------------------------------------------
    def on_joint_state(self, msg: JointState) -> None:
        if len(msg.name) == len(msg.position):
            self.assembler.add_joints(stamp_ns(msg.header.stamp, self.now_ns()), msg.name, msg.position)

    def on_image(self, msg: Image, key: str) -> None:
        if msg.encoding != "rgb8":
            self.last_problem = f"camera {key}: encoding {msg.encoding}, expected rgb8"
            return
        rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
        frame = rows[:, :msg.width * 3].reshape(msg.height, msg.width, 3)
        self.assembler.add_frame(key, stamp_ns(msg.header.stamp, self.now_ns()), frame)

    # --- control loop ---------------------------------------------------------------------------
    def on_tick(self) -> None:
        if not self.active or self.chunker is None:
            return
        now_ns = self.now_ns()
        now = now_ns * 1e-9
        self.take_results(now)
        if not self.active:
            return
        if self.chunker.request(now):
            obs = self.assembler.at(now_ns)
            if isinstance(obs, str):
                self.chunker.cancel()
                self.last_problem = f"no observation: {obs}"
            else:
                self.requests.put_nowait(obs)
        self.watch_for_hang(now)
        target = self.chunker.act(now)
        if target is None:
            return
        msg = JointState(name=list(self.spec.joint_names), position=[float(v) for v in target])
        stamp = int(self.chunker.chunks[-1].stamp_s * 1e9)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        self.output.publish(msg)
        self.published += 1

    def take_results(self, now: float) -> None:
        assert self.chunker is not None
        while self.results:
            activation, chunk, stamp, latency, error = self.results.popleft()
            if activation != self.activation:
                continue
            self.latencies.append(latency)
            if chunk is None:
                self.chunker.cancel()
                self.failures += 1
                self.last_problem = f"inference failed ({self.failures} in a row): {error}"
                self.get_logger().error(self.last_problem)
                if self.failures >= self.max_failures:
                    self.request_stop(self.last_problem)
                continue
            self.failures, self.hung_reported = 0, False
            result = self.chunker.submit(chunk, stamp, now)
            if not result.accepted:
                self.last_problem = f"chunk refused: {result.reason}"
                self.get_logger().warning(self.last_problem, throttle_duration_sec=1.0)

    def watch_for_hang(self, now: float) -> None:
        assert self.chunker is not None
        pending = self.chunker.pending_since
        limit = self.chunker.config.max_age_s
        if pending is not None and now - pending > limit and not self.hung_reported:
            self.hung_reported = True
            self.last_problem = f"inference has not answered for {now - pending:.2f} s (> {limit:g} s): queue dry"
            self.get_logger().error(self.last_problem)

    def publish_diagnostics(self) -> None:
        ex = self.chunker
        now = self.now_ns() * 1e-9
        lat = np.array(self.latencies) if self.latencies else np.zeros(1)
        staleness = ex.staleness(now) if ex is not None else None
        values = {"active": self.active, "stop_reason": self.stop_reason or "", "configure": self.failure or "ok",
                  "published": self.published, "inference_calls": self.calls,
                  "latency_p50_s": f"{np.percentile(lat, 50):.4f}", "latency_p99_s": f"{np.percentile(lat, 99):.4f}",
                  "queue_depth": ex.queue_depth(now) if ex else 0,
                  "chunk_age_s": "" if staleness is None else f"{staleness:.3f}",
                  "chunks_accepted": ex.accepted if ex else 0, "chunks_refused": ex.refused if ex else 0,
                  "steps_dropped": ex.dropped_steps if ex else 0, "dry_ticks": ex.dry_ticks if ex else 0,
                  "last_problem": self.last_problem}
        level = DiagnosticStatus.OK if self.active and not self.failures else (
            DiagnosticStatus.ERROR if self.failure or self.stop_reason not in (None, "deactivated") else
            DiagnosticStatus.WARN)
        status = DiagnosticStatus(level=level, name="dreamgen/policy_node", hardware_id=self.spec.name,
                                  message=self.last_problem or ("active" if self.active else "inactive"),
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(msg)


main = main_for(PolicyNode)
