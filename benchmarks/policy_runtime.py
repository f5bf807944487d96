"""How fast does each policy runtime answer one observation, and do they agree?

Side by side, in one process, on the same exported policy and the same observations
(`dreamgen policy bench`'s `bench_policy`): every runtime available here (torch, onnxruntime;
tensorrt where importable and an engine is cached for this GPU), each timed over `--calls` act
calls after a warm-up: p50/p99 of the whole act (preprocessing + inference + denormalization) and
of the inference alone, the ratio of each p50 to the fastest, and the largest difference of its
chunks from the first backend's (joint units). The policy is an untrained PolicyNet of the default
architecture (64x64 image, hidden 256, flow head with 4 Euler steps, H=16, the GR1's 44 joints),
since latency does not depend on what the weights learned; `--image-size`/`--hidden` change it.
Threads: 1 by default (a robot computer's control process should not fight its own inference for
cores; `--threads 0` leaves torch's and ONNX Runtime's defaults). The load average is printed
beside the numbers: on a shared machine they move with it.

    .venv/bin/python benchmarks/policy_runtime.py [--calls 300] [--threads 1] [--image-size 64] [--hidden 256]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.policy.bench import bench_policy, format_bench
from dreamgen_core.policy.checkpoint import PolicyCheckpoint, build_model, save_policy
from dreamgen_core.policy.config import PolicyConfig
from dreamgen_core.policy.export import export_policy
from dreamgen_core.policy.preprocess import norm_from_arrays


def exported_policy(root: Path, image_size: int, hidden: int) -> Path:
    spec = load_embodiment("gr1")
    config = replace(PolicyConfig(), image_size=image_size, hidden=hidden)
    key = next(iter(spec.cameras.values())).model_view.video_key
    low = np.array([spec.joints[n].lower for n in spec.joint_names])
    high = np.array([spec.joints[n].upper for n in spec.joint_names])
    rng = np.random.default_rng(0)
    norm = norm_from_arrays(rng.uniform(low, high, (256, spec.dim)), rng.uniform(low, high, (256, spec.dim)),
                            image_size, [key])
    torch.manual_seed(0)
    save_policy(root / "ckpt", PolicyCheckpoint(build_model(config, norm, config.text), config, norm, spec.name,
                                                spec.content_hash, spec.joint_names, config.text, (key,), config.horizon))
    export_policy(root / "ckpt", root / "policy")
    return root / "policy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per runtime; 0: the libraries' defaults")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()
    options: dict[str, dict[str, int]] = {}
    if args.threads:
        torch.set_num_threads(args.threads)
        options["onnxruntime"] = {"threads": args.threads}
    with tempfile.TemporaryDirectory() as scratch:
        policy = exported_policy(Path(scratch), args.image_size, args.hidden)
        rows = bench_policy(policy, calls=args.calls, warmup=args.warmup, options=options)
    print(f"policy: PolicyNet image {args.image_size}, hidden {args.hidden}, flow head, H=16, D=44; "
          f"{args.calls} calls after {args.warmup} warm-up, threads {args.threads or 'default'}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(format_bench(rows))
    ran = {r.runtime: r for r in rows if r.act}
    if "torch" in ran and "onnxruntime" in ran:
        ratio = ran["torch"].act["p50_ms"] / ran["onnxruntime"].act["p50_ms"]  # type: ignore[index]
        print(f"torch p50 / onnxruntime p50 = {ratio:.2f}")


if __name__ == "__main__":
    main()
