"""Real robot drivers: ROS-free objects that speak a robot's own SDK in its joint order and units.

`driver.RobotDriver` is what a driver node needs from one; `gr1_grx.Gr1GrxDriver` reaches the GR1
body through Fourier's `fourier-grx-client` (the `grx` extra) and its hands through a `hands`
adapter; `grx_standin.GrxStandIn` answers the same Zenoh protocol from the MuJoCo GR1 for tests.
"""
