"""Imports of dependencies that cannot be installed everywhere, with a message that says how.

TensorRT and ONNX Runtime GPU only install on NVIDIA machines (the `gpu` extra). Code that needs
them calls `require` at the point of use, so the rest of dreamgen imports and runs on a CPU laptop,
and a user on the wrong machine reads what to install instead of a bare ModuleNotFoundError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_HOW = {
    "tensorrt": "TensorRT (NVIDIA GPUs only): tools/install.sh --extras gpu on a machine with CUDA, "
                "or use docker/Dockerfile.robot; on CPU machines choose the ONNX Runtime or torch backend",
    "onnxruntime": "ONNX Runtime: tools/install.sh --extras gpu (onnxruntime-gpu) or pip install onnxruntime",
}


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` or raise ImportError saying what needed it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        how = _HOW.get(module.split(".", maxsplit=1)[0], f"pip install {module}")
        raise ImportError(f"{purpose} needs the Python module {module!r}, which is not installed here. "
                          f"Install {how}.") from exc
