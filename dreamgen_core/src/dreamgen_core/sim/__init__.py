"""The simulated GR1 (MuJoCo): model, table task, camera, scripted expert. Never imports rclpy.

Rendering is headless on the CPU: MUJOCO_GL defaults to EGL here, before any submodule imports
mujoco (mujoco picks its GL backend at import, so a caller that imported it earlier chose already).
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
