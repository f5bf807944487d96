"""`dreamgen idm eval DATASET --idm CKPT --out REPORT_DIR`: the IDM's labels against baselines, and replayed in the sim."""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamgen_core.cli.idm_label_cmd import add_predictor_arguments
from dreamgen_core.idm.eval import PLOT, REPORT, EvalOptions, evaluate

EPILOG = """\
examples:
  dreamgen idm eval sim_heldout --idm idm_ckpt --out idm_eval                 held-out sim demos: errors + replays
  dreamgen idm eval sim_heldout --idm idm_ckpt --episodes 0 1 2 --replay 1 --out idm_eval
  dreamgen idm eval dreams_labelled --idm idm_ckpt --out dream_eval           labelled dreams: do they solve their task?
  dreamgen idm eval robot_dataset --idm idm_ckpt --replay 0 --out idm_eval    a real robot's data: no sim scene

Real (recorded) episodes: per-joint MAE/RMSE of the IDM's chunks (vs a_t..a_t+H-1) and of its ensembled labels
(vs a_t, per frame) against the recorded actions, each beside hold-the-state and the mean action. Episodes with
a sim scene (sim recordings, labelled dreams of sim tasks) are replayed in the sim through the safety monitor:
success of the task's check, tracking error vs the recorded trajectory.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="IDM labels vs recorded actions and baselines; sim replays",
                       description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", type=Path, help="held-out recorded episodes, or a labelled dream dataset")
    p.add_argument("--idm", type=Path, required=True, metavar="CKPT", help="a `dreamgen idm train` checkpoint")
    p.add_argument("--out", type=Path, required=True, metavar="REPORT_DIR", help=f"where {REPORT} and {PLOT} go")
    p.add_argument("--episodes", type=int, nargs="+", metavar="I", help="real episodes to evaluate (default: all)")
    p.add_argument("--replay", type=int, metavar="N",
                   help="replay the first N episodes with a sim scene (default: all of them; 0: none)")
    add_predictor_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    report = evaluate(args.dataset, args.idm, args.out,
                      EvalOptions(episodes=args.episodes, replay=args.replay, batch=args.batch, threads=args.threads,
                                  device=args.device))
    print(report.table())
    print(f"-> {args.out / REPORT}   plot {args.out / PLOT}")
    return 0
