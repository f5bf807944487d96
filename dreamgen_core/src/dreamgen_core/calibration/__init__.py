"""Calibration files: camera intrinsics (ROS camera_info YAML), extrinsics, joint-zero offsets."""
