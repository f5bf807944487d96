"""`dreamgen policy bench POLICY_DIR`: p50/p99 latency of every runtime available here, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dreamgen policy bench policies/push                         every runtime this machine can run
  dreamgen policy bench policies/push --runtimes onnxruntime --calls 1000 --threads 1
  dreamgen policy bench policies/push --out bench/            + bench.json and latency.png (histograms)

Latency is of the whole act (preprocessing, inference, denormalization) and of the inference alone;
agreement is the largest difference of each backend's chunks from the first backend's (torch when
it runs), in joint units. Runtimes that cannot run here are listed with the reason (no GPU, no
TensorRT, no engine cached for this machine). Measure on an idle machine: `uptime`.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="latency p50/p99 per available runtime, side by side",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("policy_dir", type=Path, metavar="POLICY_DIR", help="an exported policy (dreamgen policy export)")
    p.add_argument("--runtimes", default=None, metavar="NAME,...", help="default: torch,onnxruntime,tensorrt")
    p.add_argument("--calls", type=int, default=200, help="timed calls per runtime (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls first (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of torch and ONNX Runtime (default: theirs)")
    p.add_argument("--out", type=Path, default=None, help="also write bench.json and latency.png here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.policy.bench import bench_policy, format_bench, write_bench

    options: dict[str, dict[str, int]] = {}
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        options["onnxruntime"] = {"threads": args.threads}
    runtimes = [n.strip() for n in args.runtimes.split(",") if n.strip()] if args.runtimes else None
    rows = bench_policy(args.policy_dir, runtimes, args.calls, args.warmup, options)
    print(format_bench(rows))
    if args.out:
        write_bench(args.out, rows)
        print(f"{args.out}: bench.json, latency.png")
    return 0 if any(r.act for r in rows) else 1
