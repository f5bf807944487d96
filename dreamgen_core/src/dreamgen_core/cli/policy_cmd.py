"""`dreamgen policy`: co-train the visuomotor policy on real + dreamed data, export it, run and evaluate it (stage 4).

Each sub-command lives in its own `policy_<name>_cmd.py` module with a `register(subparsers)` function.
"""

from __future__ import annotations

import argparse

from dreamgen_core.cli import (
    policy_bench_cmd,
    policy_engine_cmd,
    policy_eval_cmd,
    policy_export_cmd,
    policy_train_cmd,
)

EPILOG = """\
the loop, in commands:
  dreamgen policy train DEMOS DREAMS_LABELLED --mix real=1,dream=1 --out CKPT   co-train on demos + labelled dreams
  dreamgen policy export CKPT --out POLICY_DIR                                  ONNX + policy.yaml manifest
  dreamgen policy eval POLICY_DIR --sim --tasks ... --episodes N --out REPORT   closed loop in the MuJoCo GR1
  dreamgen policy bench POLICY_DIR                                              latency per runtime, side by side
  dreamgen policy build-engine POLICY_DIR --fp16                                TensorRT engine (NVIDIA GPUs)
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("policy", help="visuomotor policy: train (co-training), export, run, evaluate",
                                 description=__doc__.splitlines()[0], epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="policy_command", required=True, metavar="POLICY_COMMAND")
    # sub-commands register here, one line each: policy_<name>_cmd.register(sub)
    policy_train_cmd.register(sub)
    policy_export_cmd.register(sub)
    policy_engine_cmd.register(sub)
    policy_eval_cmd.register(sub)
    policy_bench_cmd.register(sub)
