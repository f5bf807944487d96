"""`dreamgen policy bench POLICY_DIR`: latency of every runtime available here, side by side, and agreement.

Each backend is loaded, warmed up, then called `calls` times on the same sequence of observations
(seeded random frames and states, one instruction, the same noise seed per call), timing the whole
`act` and the inference alone. Agreement: the largest difference of its chunks from the reference
backend's (the first that ran: torch when it can), in joint units, so a backend that is fast but
wrong shows here too. `write_bench` adds bench.json and latency.png (a histogram per backend).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreamgen_core.atomic import write_bytes_atomic, write_text_atomic
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.runtime import RUNTIMES, PolicyRuntime, load_runtime
from dreamgen_core.sim.task import TASKS

ORDER = ("torch", "onnxruntime", "tensorrt")  # the first that runs is the agreement reference


@dataclass
class BenchRow:
    runtime: str
    backend: str = ""
    act: dict[str, Any] | None = None       # LatencyStats.summary() of whole act calls
    infer: dict[str, Any] | None = None     # of the backend call alone
    max_abs_diff: float | None = None       # vs the reference backend's chunks, joint units
    skipped: str = ""                       # why it did not run


def bench_policy(policy_dir: Path, runtimes: list[str] | None = None, calls: int = 200, warmup: int = 10,
                 options: dict[str, dict[str, Any]] | None = None) -> list[BenchRow]:
    """One row per runtime (all registered ones by default): latency, or why it was skipped."""
    names = runtimes or [n for n in ORDER if n in RUNTIMES.names()]
    for name in names:
        RUNTIMES.check(name, "--runtimes", "runtimes")
    rows: list[BenchRow] = []
    reference: list[np.ndarray] | None = None
    samples: list[tuple[dict[str, np.ndarray], np.ndarray]] = []
    for name in names:
        try:
            runtime = load_runtime(policy_dir, name, **(options or {}).get(name, {}))
        except (PolicyError, ImportError) as exc:
            rows.append(BenchRow(name, skipped=str(exc)))
            continue
        samples = samples or _observations(runtime, calls)
        chunks = _run(runtime, samples, warmup)
        row = BenchRow(name, runtime.backend, runtime.latency.summary(), runtime.infer_latency.summary())
        if reference is None:
            reference, row.max_abs_diff = chunks, 0.0
        else:
            row.max_abs_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(chunks, reference))
        rows.append(row)
    return rows


def _observations(runtime: PolicyRuntime, calls: int) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    rng = np.random.default_rng(0)
    norm, size = runtime.norm, runtime.norm.image_size
    return [({key: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for key in norm.video_keys},
             rng.uniform(norm.state_min, norm.state_max).astype(np.float32)) for _ in range(calls)]


def _run(runtime: PolicyRuntime, samples: list[tuple[dict[str, np.ndarray], np.ndarray]], warmup: int) -> list[np.ndarray]:
    runtime.start_episode(TASKS[0].instruction)
    runtime.warmup(warmup)
    return [runtime.act(images, state, seed=i) for i, (images, state) in enumerate(samples)]


def format_bench(rows: list[BenchRow]) -> str:
    ran = [r for r in rows if r.act]
    fastest = min((r.act["p50_ms"] for r in ran if r.act), default=float("nan"))
    lines = [f"{'backend':44} {'p50 ms':>8} {'p99 ms':>8} {'infer p50':>10} {'x fastest':>9} {'max |Δ| vs ref':>15}"]
    for r in rows:
        if not r.act or not r.infer:
            lines.append(f"{r.runtime:44} skipped: {r.skipped}")
            continue
        lines.append(f"{r.backend:44} {r.act['p50_ms']:8.2f} {r.act['p99_ms']:8.2f} {r.infer['p50_ms']:10.2f} "
                     f"{r.act['p50_ms'] / fastest:9.2f} {r.max_abs_diff:15.3g}")
    return "\n".join(lines)


def write_bench(out: Path, rows: list[BenchRow]) -> None:
    """OUT/bench.json and OUT/latency.png (whole-act latency histogram per backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "bench.json", json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.subplots()
    for row in rows:
        if row.act:
            counts, edges = row.act["histogram"]["counts"], row.act["histogram"]["edges_ms"]
            axes.stairs(counts, edges, label=f"{row.backend} (p50 {row.act['p50_ms']:.2f} ms)")
    axes.set_xscale("log")
    axes.set_xlabel("act latency (ms): preprocessing + inference + denormalization")
    axes.set_ylabel("calls")
    axes.legend(fontsize=8)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(out / "latency.png", buffer.getvalue())
