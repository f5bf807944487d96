"""How fast does `dreamgen wm sim-clips` film expert episodes, and what does a second worker buy?

Runs the same episodes (seeds 0..N-1 of one task, 64x64 clips) with 1 and then 2 worker processes,
each into a fresh temporary clip set, and prints episodes/s of each and the 2-worker speed-up. The
1-worker run is in this process (the MuJoCo model builds once, as in a worker), the 2-worker run
includes starting its forkserver workers (each builds its own model): what a user waits for.

    .venv/bin/python benchmarks/sim_clips_speed.py [--episodes 8] [--size 64]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from dreamgen_core.sim.task import TASKS
from dreamgen_core.worldmodel.sim_clips import SimClipConfig, make_sim_clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory(prefix="sim-clips-speed-") as tmp:
        for workers in (1, 2):
            config = SimClipConfig(seeds=tuple(range(args.episodes)), tasks=TASKS[:1], size_hw=(args.size, args.size),
                                   workers=workers)
            report = make_sim_clips(Path(tmp) / f"workers{workers}", config, progress=False)
            rates[workers] = len(report.episodes) / report.seconds
            print(f"{workers} worker(s): {len(report.episodes)} episodes ({len(report.failed)} failed) in "
                  f"{report.seconds:.1f} s = {rates[workers]:.2f} episodes/s")
    print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
