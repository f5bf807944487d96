"""`dreamgen idm`: train the inverse dynamics model, label dreams with it, and prove the labels (DreamGen stage 3).

Each sub-command lives in its own `idm_<name>_cmd.py` module with a `register(subparsers)` function.
"""

from __future__ import annotations

import argparse

from dreamgen_core.cli import idm_eval_cmd, idm_label_cmd, idm_train_cmd

EPILOG = """\
the loop, in commands:
  dreamgen idm train DATASET... --out CKPT                 IDM from recorded demos (two frames -> 16 actions)
  dreamgen idm label DREAMS --idm CKPT --out DATASET       dreams labelled with actions (a GR00T dataset)
  dreamgen idm eval DATASET --idm CKPT --out REPORT        labels vs recorded actions and trivial baselines
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("idm", help="inverse dynamics model: train, label dreams, eval",
                                 description=__doc__.splitlines()[0], epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="idm_command", required=True, metavar="IDM_COMMAND")
    # sub-commands register here, one line each: idm_<name>_cmd.register(sub)
    idm_train_cmd.register(sub)
    idm_label_cmd.register(sub)
    idm_eval_cmd.register(sub)
