"""`dreamgen wm`: adapt a world model to the robot, dream, and score the dreams (DreamGen stages 1–2).

Each sub-command lives in its own `wm_<name>_cmd.py` module with a `register(subparsers)` function.
"""

from __future__ import annotations

import argparse

from dreamgen_core.cli import wm_bench_cmd, wm_dream_cmd, wm_eval_cmd, wm_frames_cmd, wm_sim_clips_cmd, wm_train_cmd

EPILOG = """\
the loop, in commands:
  dreamgen dataset export-clips DATASET --out CLIPS        clips + captions from recorded episodes
  dreamgen wm train CLIPS --recipe wan2.1-i2v --base /models/Wan2.1-I2V-14B-480P-Diffusers --out RUN
  dreamgen wm frames DATASET --out FRAMES                  initial frames + a prompt file to edit
  dreamgen wm dream FRAMES/prompts.jsonl --model RUN --out DREAMS
  dreamgen wm bench DREAMS --judge sim                     DreamGen Bench scores
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("wm", help="world model: train (LoRA), dream, bench",
                                 description=__doc__.splitlines()[0], epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="wm_command", required=True, metavar="WM_COMMAND")
    # sub-commands register here: wm_<name>_cmd.register(sub)
    wm_sim_clips_cmd.register(sub)
    wm_bench_cmd.register(sub)
    wm_eval_cmd.register(sub)
    wm_train_cmd.register(sub)
    wm_frames_cmd.register(sub)
    wm_dream_cmd.register(sub)
