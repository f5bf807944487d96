"""dreamgen_core: the ROS-free core of dreamgen."""

# The one place the version is written: pyproject.toml and setup.cfg read it, and provenance records
# it from here (an installed distribution's metadata can be another copy's: colcon's build of this
# package has its own egg-info).
__version__ = "0.1.0"
