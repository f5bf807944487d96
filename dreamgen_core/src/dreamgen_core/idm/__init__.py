"""The inverse dynamics model (DreamGen stage 3): two frames (t, t+k) → a chunk of H actions.

Trained on recorded demos (`dreamgen idm train`), it labels world-model dreams with the actions
that would have produced them. Submodules import torch; this package file stays light.
"""
