"""ROS 2 nodes of dreamgen. Each node parses parameters, wires topics and calls a dreamgen_core object."""
