"""`dreamgen` entry point: one sub-command module per concern, each registering its parser."""

from __future__ import annotations

import argparse
import os
import sys

# Before any Hugging Face or Ray import: weights are local paths, and nothing phones home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from dreamgen_core.atomic import AtomicDirError
from dreamgen_core.bag import BagError
from dreamgen_core.cli import (
    bag_cmd,
    calibrate_cmd,
    convert_cmd,
    dataset_cmd,
    demo_cmd,
    deploy_cmd,
    doctor_cmd,
    embodiment_cmd,
    idm_cmd,
    policy_cmd,
    sim_cmd,
    wm_cmd,
)
from dreamgen_core.config import ConfigError
from dreamgen_core.dataset import DatasetError
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.worldmodel.errors import WorldModelError

# Errors in what the user gave us (a file, a spec, a dataset, an output another run is building):
# one line on stderr, exit 2.
USER_ERRORS = (ConfigError, FileNotFoundError, BagError, DatasetError, AtomicDirError, WorldModelError, IdmError,
               PolicyError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dreamgen",
        description="DreamGen on a ROS 2 robot: embodiment specs, data collection and conversion, "
                    "world model, IDM and policy tooling.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    embodiment_cmd.register(commands)
    bag_cmd.register(commands)
    calibrate_cmd.register(commands)
    convert_cmd.register(commands)
    dataset_cmd.register(commands)
    demo_cmd.register(commands)
    deploy_cmd.register(commands)
    doctor_cmd.register(commands)
    wm_cmd.register(commands)
    idm_cmd.register(commands)
    policy_cmd.register(commands)
    sim_cmd.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except USER_ERRORS as exc:
        print(f"dreamgen: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
