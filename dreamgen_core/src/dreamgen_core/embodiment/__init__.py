"""The embodiment spec (`embodiments/<name>.yaml`) and its loader."""

from dreamgen_core.embodiment.loader import available, load_embodiment, resolve
from dreamgen_core.embodiment.spec import Embodiment, Placement

__all__ = ["Embodiment", "Placement", "available", "load_embodiment", "resolve"]
