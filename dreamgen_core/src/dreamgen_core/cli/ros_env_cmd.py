"""`dreamgen-ros-env -- COMMAND`: run COMMAND on loopback-only discovery with a private ROS domain.

The Makefile runs tests, benchmarks and the demo through this, so every ROS process they start
inherits the policy of `dreamgen_core.ros.discovery`. The domain lock is inherited by COMMAND and
held until it (and every child still holding the descriptor) exits.
"""

from __future__ import annotations

import argparse
import os
import sys

from dreamgen_core.ros.discovery import DOMAIN_VAR, RANGE_VAR, DomainClaim, localhost_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dreamgen-ros-env",
        description="Run COMMAND with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and a ROS_DOMAIN_ID "
                    "claimed for this session (locked, so parallel sessions never share one).")
    parser.add_argument("--domain", type=int, help="use this ROS_DOMAIN_ID instead of claiming a free one")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND given (usage: dreamgen-ros-env -- COMMAND ...)")
    claim = DomainClaim()
    domain = args.domain if args.domain is not None else claim.claim()
    env = localhost_env(domain, os.environ)
    print(f"dreamgen-ros-env: {RANGE_VAR}={env[RANGE_VAR]} {DOMAIN_VAR}={domain}", file=sys.stderr, flush=True)
    if claim.fd is not None:
        os.set_inheritable(claim.fd, True)  # the exec'd command keeps holding the domain lock
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        print(f"dreamgen-ros-env: command not found: {command[0]}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
