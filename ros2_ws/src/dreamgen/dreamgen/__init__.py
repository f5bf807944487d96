"""ROS 2 nodes of dreamgen. Each node parses parameters, wires topics and calls a dreamgen_core object."""

from dreamgen.stop_signals import stop_request

# Every node process imports this package first, before rclpy and its node module (a second or more
# on a busy robot computer): a Ctrl-C or SIGTERM during start-up becomes a clean stop, not a traceback.
stop_request()
