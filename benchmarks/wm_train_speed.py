"""How fast does `dreamgen wm train` train the CPU world model (recipe sim-tiny, pixel-wan)?

Side by side, on the same synthetic clip set (64x64 clips of a sliding square, 16 fps, long enough
for the recipe's 9 frames 0.8 s apart), in one process:
  bare      the step alone: backend.loss, backward, clipping, AdamW, on cached batches    -> steps/s
  loop      `train()`'s steps as its loss.csv times them: batch assembly, seeded noise, the step,
            tqdm and the loss.csv row (checkpoint writes are not in it; the whole call's time is
            printed beside it)                                                             -> steps/s
  bare T=17 the same bare step with 17 frames (CPU_WORLD_MODEL.md's other setting)       -> steps/s
  bare 1 thread  the T=9 bare step with torch.set_num_threads(1) (`wm train --threads 1`) -> steps/s
and prints loop/bare (what the loop costs), T=9/T=17 and 1 thread/default threads (above 1 when other
jobs keep the cores busy: each parallel step waits for its slowest thread). Print the load average
beside the numbers: on a shared machine they move with it. Encoding the clips (a one-off, cached)
and the model build are outside every timing.

    .venv/bin/python benchmarks/wm_train_speed.py [--steps 40] [--checkpoint-every 20] [--clips 16]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dreamgen_core.training.losslog import read_loss_csv
from dreamgen_core.training.seeds import batch_indices
from dreamgen_core.video import encode_video
from dreamgen_core.worldmodel.backends.pixel_wan import PixelWan
from dreamgen_core.worldmodel.clipset import frames_needed, load_clip, read_clipset
from dreamgen_core.worldmodel.recipe import Recipe, load_recipe
from dreamgen_core.worldmodel.train import train


def synthetic_clips(root: Path, count: int, frames: int) -> Path:
    (root / "videos").mkdir(parents=True)
    rows = ["video_path,caption,num_frames,fps,episode_index"]
    for k in range(count):
        video = []
        for j in range(frames):
            image = np.full((64, 64, 3), 90, np.uint8)
            x = (j // 4 + 3 * k) % 56
            image[20:28, x:x + 8] = (200, 30, 30)
            video.append(image)
        encode_video(root / "videos" / f"c{k}.mp4", video, 16, (64, 64))
        rows.append(f"videos/c{k}.mp4,The robot arm is performing a task. push the red cube,{frames},16.0,{k}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def bare_steps_per_s(recipe: Recipe, clips: Path, steps: int) -> float:
    backend = PixelWan(recipe)
    backend.build(None)
    data = [backend.encode(load_clip(e, recipe.video)) for e in read_clipset(clips, recipe).entries]
    params = [*backend.denoiser().parameters(), *backend.text.parameters()]
    optimizer = torch.optim.AdamW(params, lr=recipe.train.learning_rate)
    t = recipe.train
    batches = [{k: torch.stack([data[i][k] for i in batch_indices(len(data), t.batch_size, 0, s)]) for k in data[0]}
               for s in range(steps + 1)]
    for s, batch in enumerate(batches):
        if s == 1:  # step 0 warms up (allocator, kernels), untimed
            began = time.perf_counter()
        loss = backend.loss(batch, torch.Generator().manual_seed(s))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, t.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--checkpoint-every", type=int, default=20)
    parser.add_argument("--clips", type=int, default=16)
    args = parser.parse_args()
    recipe = load_recipe("sim-tiny")
    long = replace(recipe, video=replace(recipe.video, num_frames=17, frame_stride=6))
    threads = torch.get_num_threads()
    print(f"threads {threads}, batch {recipe.train.batch_size}, {args.steps} timed steps, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        clips = synthetic_clips(Path(tmp) / "clips", args.clips, max(frames_needed(recipe.video), frames_needed(long.video)))
        bare = bare_steps_per_s(recipe, clips, args.steps)
        bare17 = bare_steps_per_s(long, clips, args.steps)
        torch.set_num_threads(1)
        single = bare_steps_per_s(recipe, clips, args.steps)
        torch.set_num_threads(threads)
        recipe_file = Path(tmp) / "sim-tiny-bench.yaml"
        recipe_file.write_text((Path(__file__).parents[1] / "dreamgen_core/src/dreamgen_core/worldmodel/recipes"
                                / "sim-tiny.yaml").read_text().replace("checkpoint_every: 50",
                                                                       f"checkpoint_every: {args.checkpoint_every}"))
        began = time.perf_counter()
        train(clips, recipe_file, Path(tmp) / "run", steps=args.steps + 1, device="cpu")
        total = time.perf_counter() - began
        rows = read_loss_csv(Path(tmp) / "run" / "loss.csv")
        loop = args.steps / (rows[-1][3] - rows[0][3])  # training seconds of steps 2.., the first warms up
    print(f"bare  T=9 : {bare:6.2f} steps/s")
    print(f"loop  T=9 : {loop:6.2f} steps/s (checkpoint every {args.checkpoint_every}; whole call incl. build, "
          f"encoding and saving: {total:.1f} s)   loop/bare {loop / bare:.2f}")
    print(f"bare  T=17: {bare17:6.2f} steps/s   T=9/T=17 {bare / bare17:.2f}")
    print(f"bare  T=9, 1 thread: {single:6.2f} steps/s   1 thread/{threads} threads {single / bare:.2f}   "
          f"(load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
