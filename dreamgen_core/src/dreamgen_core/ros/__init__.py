"""Starting ROS 2 processes safely, without importing rclpy (the core never does)."""
