"""`dreamgen policy build-engine POLICY_DIR [--fp16|--bf16]`: a TensorRT engine, verified, cached by key."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples (an NVIDIA GPU with TensorRT: tools/install.sh --extras gpu):
  dreamgen policy build-engine policies/push              fp32
  dreamgen policy build-engine policies/push --fp16       the checkpoint re-traced in fp16 (strongly typed)
  dreamgen policy build-engine policies/push --bf16

The engine is cached in POLICY_DIR/engines/<precision>-sm<cc>-trt<version>-<onnx sha256>/ with its key
(ONNX sha256, TensorRT version, GPU compute capability, precision): the tensorrt runtime loads only
the entry of this machine's key and refuses any other, naming what differs. Each engine is compared
with ONNX Runtime on sample inputs before it is cached.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-engine", help="build, verify and cache a TensorRT engine (NVIDIA GPUs)",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("policy_dir", type=Path, metavar="POLICY_DIR", help="an exported policy (dreamgen policy export)")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp16", dest="precision", action="store_const", const="fp16", help="half precision")
    precision.add_argument("--bf16", dest="precision", action="store_const", const="bf16", help="bfloat16")
    p.add_argument("--samples", type=int, default=4, help="sample inputs compared with ONNX Runtime (default: %(default)s)")
    p.set_defaults(run=run, precision="fp32")


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.policy.engine_build import build_engine

    cached = build_engine(args.policy_dir, args.precision, args.samples)
    print(f"{cached.path}: {cached.key.precision} engine for sm{cached.key.compute_capability}, TensorRT "
          f"{cached.key.tensorrt_version}; max |TensorRT - ONNX Runtime| = "
          f"{cached.verification['max_abs_diff_vs_onnx']:.3g} (bound {cached.verification['bound']:g})")
    return 0
