"""The visuomotor policy (DreamGen stage 4): model-view image(s) + state + instruction → an action chunk.

Co-trained on real demos and IDM-labelled dreams (`dreamgen policy train`); the runtimes
(`policy.runtime`) run the same network exported to ONNX. Submodules import torch; this file stays light.
"""
