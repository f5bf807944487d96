"""`dreamgen policy export CKPT --out POLICY_DIR`: ONNX + policy.yaml manifest, verified against torch."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dreamgen policy export runs/policy --out policies/push        ONNX (opset 17, dynamic batch) + policy.yaml
  dreamgen policy export runs/policy --out policies/push --bound 1e-5 --samples 16

POLICY_DIR holds policy.onnx, policy.yaml (io names/shapes/dtypes, horizon, rates, norm stats, text
encoder, embodiment + hash, ONNX sha256, this export's max |ONNX - torch|) and checkpoint/ (the torch
weights, for the torch runtime). The export runs ONNX Runtime (CPU) against torch on sample inputs and
writes nothing when they differ by more than --bound. An existing POLICY_DIR is replaced whole.
Then: dreamgen policy eval POLICY_DIR --sim ..., dreamgen policy bench POLICY_DIR,
dreamgen policy build-engine POLICY_DIR --fp16 (on an NVIDIA GPU with TensorRT).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX + a policy.yaml manifest (verified)",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, metavar="CKPT", help="a `dreamgen policy train` output directory")
    p.add_argument("--out", type=Path, required=True, help="the exported policy directory (replaced when it exists)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, at least 17 (default: %(default)s)")
    p.add_argument("--bound", type=float, default=1e-4,
                   help="largest allowed |ONNX Runtime - torch| of the normalized actions (default: %(default)g)")
    p.add_argument("--samples", type=int, default=4, help="sample inputs compared (default: %(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dreamgen_core.policy.export import export_policy

    manifest = export_policy(args.checkpoint, args.out, opset=args.opset, bound=args.bound, samples=args.samples)
    assert manifest.onnx is not None and manifest.export is not None
    io = ", ".join(f"{role} {list(t.shape)}" for role, t in {**manifest.io.inputs, **manifest.io.outputs}.items())
    print(f"{args.out}: {manifest.onnx.file} (opset {manifest.onnx.opset}, sha256 {manifest.onnx.sha256[:16]}…), "
          f"embodiment {manifest.embodiment.name} {manifest.embodiment.content_hash[:12]}…")
    print(f"io: {io}")
    print(f"verified: max |ONNX Runtime - torch| = {manifest.export.max_abs_diff:.3g} on {manifest.export.samples} "
          f"samples (bound {manifest.export.bound:g})")
    return 0
