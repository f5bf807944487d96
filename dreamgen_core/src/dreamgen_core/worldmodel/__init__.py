"""Stages 1 and 2 of DreamGen: adapt an image-to-video world model to the robot, then dream.

Backends (one per model family, chosen by name in a recipe) sit behind `backend.WorldModelBackend`;
`train` runs the one training loop, `dream` the one generation fan-out, `bench` scores dreams.
Heavy modules (torch, diffusers, peft, ray) are imported only inside the functions that need them.
"""
