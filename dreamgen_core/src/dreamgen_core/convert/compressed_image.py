"""A camera recorded as `sensor_msgs/msg/CompressedImage` (jpeg or png), read as RGB frames.

image_transport's compressed plugin names what it did in `format`: "<encoding>; <codec> compressed
<order>", e.g. "rgb8; jpeg compressed bgr8": an rgb8 image converted to bgr8, then encoded with
OpenCV (which takes BGR). Decoding with OpenCV yields the channels in that `order` again, so bgr8
(also what a bare "jpeg"/"png" means: a standard file decoded by OpenCV) is reversed to RGB, rgb8
(a publisher that handed RGB to the encoder) is taken as is, and mono8 decodes to equal channels.
The size comes from the JPEG/PNG header, so every message is checked without decoding pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from dreamgen_core.bag.schema import encoded_image_size

CODECS = ("jpeg", "png")
ORDERS = {"bgr8": slice(None, None, -1), "bgra8": slice(None, None, -1), "mono8": slice(None, None, -1),
          "rgb8": slice(None), "rgba8": slice(None)}  # decoded channel order → RGB
BARE_ORDER = "bgr8"


class UndecodableImage(ValueError):
    """A compressed frame whose header reads but whose pixels do not decode; the message says why."""


@dataclass(frozen=True)
class CompressedFormat:
    codec: str
    order: str


def parse_format(text: str) -> CompressedFormat | str:
    """The codec and channel order of an image_transport `format` string, or why it is not supported."""
    words = text.rsplit(";", maxsplit=1)[-1].split()
    if "compressed" in words:
        at = words.index("compressed")
        codec, order = " ".join(words[:at]), " ".join(words[at + 1:]) or BARE_ORDER
    else:
        codec, order = " ".join(words), BARE_ORDER
    if codec not in CODECS or order not in ORDERS:
        return (f"compressed image format {text!r} is not supported (codec {' or '.join(CODECS)}, "
                f"channels {', '.join(ORDERS)})")
    return CompressedFormat(codec, order)


def compressed_header(msg: Any) -> tuple[tuple[int, int] | None, str]:
    """(width, height) of a CompressedImage message from its JPEG/PNG header, and why it cannot be
    read ('' if it can)."""
    form = parse_format(str(msg.format))
    if isinstance(form, str):
        return None, form
    size = encoded_image_size(msg.data)
    if size is None:
        return None, f"no {form.codec} header in its {len(msg.data)} data bytes (format {msg.format!r})"
    return size, ""


def decode_rgb(msg: Any) -> np.ndarray:
    """The message's pixels as an RGB [height, width, 3] array (header already checked)."""
    form = parse_format(str(msg.format))
    if isinstance(form, str):
        raise UndecodableImage(form)
    frame = cv2.imdecode(np.asarray(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise UndecodableImage(f"corrupt {form.codec} data: {len(msg.data)} bytes do not decode")
    return frame[:, :, ORDERS[form.order]]
