# Robot image: apt ROS 2 Jazzy + the colcon-built `dreamgen` package + ONNX Runtime GPU / TensorRT.
# Python packages come only through tools/install.sh and tools/constraints.txt, as with `make`
# (tests/test_install_paths.py checks it).
#   docker build -f docker/Dockerfile.robot -t dreamgen-robot .        (from the repo root)
#   docker compose -f docker/compose.yaml up collect          (the default command: record episodes)
#   docker compose -f docker/compose.yaml run joint-check    (exit code = verdict)
# GPU extras need the NVIDIA container toolkit on the robot computer; grx is the GR1 bridge's Fourier client.
FROM ros:jazzy-ros-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv python3-pip \
      ros-jazzy-launch-ros ros-jazzy-ros2launch ros-jazzy-rosbag2-storage-mcap \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/dreamgen
COPY tools/ tools/
COPY dreamgen_core/ dreamgen_core/
RUN source /opt/ros/jazzy/setup.bash \
 && tools/install.sh --venv /opt/dreamgen/venv --ros system --torch none --extras gpu,grx

# The package installs launch/ and calibration/ into share/dreamgen: both must be there at build.
COPY colcon.meta ./
COPY launch/ launch/
COPY calibration/ calibration/
COPY ros2_ws/src/ ros2_ws/src/
RUN source /opt/ros/jazzy/setup.bash && tools/build_ws.sh /opt/dreamgen/venv

COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
# The collect stack (safety_monitor + episode_recorder) beside the robot's driver and teleop.
# Bring-up check with a verdict: docker run … dreamgen-robot ros2 run dreamgen joint_state_check --ros-args -p duration_s:=5.0
CMD ["ros2", "launch", "dreamgen", "collect.launch.py", "output_dir:=/data/episodes"]
