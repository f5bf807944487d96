"""Message definitions and header stamps of standard ROS 2 types, without ROS.

The bag must carry each type's full definition (what `ros2 bag`, rosbags and Foxglove decode with)
and its RIHS01 hash (what rosbag2 Jazzy checks); rosbags' Jazzy typestore has both for every
standard type. QA needs only a message's header stamp, which sits at a fixed place in the CDR bytes
of any type that starts with std_msgs/Header, so it is read there instead of deserializing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache

from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

HEADER_TYPE = "std_msgs/msg/Header"


@cache
def typestore() -> Typestore:
    return get_typestore(Stores.ROS2_JAZZY)


def known_type(msgtype: str) -> bool:
    return msgtype in typestore().fielddefs


@dataclass(frozen=True)
class MessageDefinition:
    msgtype: str
    text: str      # ros2msg: the type, then each dependency after a line of '='
    rihs01: str


@cache
def message_definition(msgtype: str) -> MessageDefinition:
    if not known_type(msgtype):
        raise KeyError(f"{msgtype}: not a standard ROS 2 Jazzy message type")
    text, _ = typestore().generate_msgdef(msgtype, ros_version=2)
    return MessageDefinition(msgtype, text, typestore().hash_rihs01(msgtype))


@cache
def starts_with_header(msgtype: str) -> bool:
    fields = typestore().fielddefs[msgtype][1]
    return bool(fields) and fields[0][1][1] == HEADER_TYPE


_STAMP = {0: struct.Struct(">iI"), 1: struct.Struct("<iI")}  # by the encapsulation's endianness byte


def header_stamp_ns(cdr: bytes | memoryview) -> int | None:
    """builtin_interfaces/Time of a CDR message that starts with std_msgs/Header, in ns.

    Layout: 4-byte encapsulation header (byte 1: 0 big, 1 little endian), then int32 sec and uint32
    nanosec, 4-aligned so no padding. None if the bytes are too short to hold a stamp.
    """
    if len(cdr) < 12:
        return None
    sec, nanosec = _STAMP[cdr[1] & 1].unpack_from(cdr, 4)
    return sec * 1_000_000_000 + nanosec


IMAGE_TYPE = "sensor_msgs/msg/Image"
_UINT32 = {0: struct.Struct(">I"), 1: struct.Struct("<I")}
_SIZE = {0: struct.Struct(">II"), 1: struct.Struct("<II")}


def image_size(cdr: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) of a sensor_msgs/msg/Image in CDR, without deserializing its pixels.

    Layout after the 4-byte encapsulation header: stamp (8 bytes), frame_id (uint32 length incl.
    the NUL, then the characters), then height and width as uint32 aligned to 4 from the payload
    start. None if the bytes are too short.
    """
    if len(cdr) < 16:
        return None
    little = cdr[1] & 1
    (length,) = _UINT32[little].unpack_from(cdr, 12)
    offset = 4 + ((8 + 4 + length + 3) & ~3)
    if len(cdr) < offset + 8:
        return None
    height, width = _SIZE[little].unpack_from(cdr, offset)
    return width, height
