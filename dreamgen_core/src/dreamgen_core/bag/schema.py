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


COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BE_UINT16 = struct.Struct(">H")
_BE_SIZE = struct.Struct(">HH")
# JPEG start-of-frame markers (baseline, progressive, ...); C4, C8 and CC share the range but are not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def encoded_image_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame or a PNG's IHDR, without decoding pixels; None
    if the bytes are neither (or are cut short before the size)."""
    data = memoryview(data)
    if bytes(data[:8]) == _PNG_SIGNATURE and len(data) >= 24:
        width, height = struct.unpack_from(">II", data, 16)
        return width, height
    if bytes(data[:2]) != b"\xff\xd8":
        return None
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if marker in _JPEG_SOF:
            if offset + 9 > len(data):
                return None
            height, width = _BE_SIZE.unpack_from(data, offset + 5)
            return width, height
        if marker == 0xDA:  # start of scan: the frame header would have come before
            return None
        (length,) = _BE_UINT16.unpack_from(data, offset + 2)
        offset += 2 + length
    return None


def compressed_image_size(cdr: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) of a sensor_msgs/msg/CompressedImage in CDR, read from its JPEG/PNG header.

    Layout after the 4-byte encapsulation header: stamp (8 bytes), frame_id and format (each a
    uint32 length incl. the NUL, then the characters), then data (uint32 length, 4-aligned from the
    payload start, then the bytes). None if the bytes are too short or hold no JPEG/PNG header.
    """
    if len(cdr) < 16:
        return None
    little = cdr[1] & 1
    offset = 4 + 8
    for _ in range(2):  # frame_id, format
        offset = 4 + ((offset - 4 + 3) & ~3)
        if len(cdr) < offset + 4:
            return None
        (length,) = _UINT32[little].unpack_from(cdr, offset)
        offset += 4 + length
    offset = 4 + ((offset - 4 + 3) & ~3) + 4  # past the data's length
    return encoded_image_size(memoryview(cdr)[offset:]) if len(cdr) > offset else None
