"""Camera frames → the model's view, and the mp4 files datasets and clips are made of.

The same transform runs offline (dataset conversion) and live (policy node), so a policy sees
exactly the pixels it was trained on.
"""

from dreamgen_core.video.codec import (
                                       DecodedVideo,
                                       EncoderConfig,
                                       VideoProbe,
                                       VideoWriter,
                                       decode_video,
                                       encode_video,
                                       iter_frames,
                                       probe_video,
)
from dreamgen_core.video.model_view import ModelViewTransform, resize

__all__ = ["DecodedVideo", "EncoderConfig", "ModelViewTransform", "VideoProbe", "VideoWriter", "decode_video",
           "encode_video", "iter_frames", "probe_video", "resize"]
