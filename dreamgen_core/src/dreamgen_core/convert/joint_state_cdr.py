"""sensor_msgs/JointState messages decoded without decoding their joint names again and again.

A driver sends the same name list in every message (44 strings for GR1, at 100-200 Hz), and
decoding those strings was most of the converter's time spent on joints. The encoded name list is
length-prefixed, so if a message's bytes at the list's place equal a list decoded before, they are
that list, and only the stamp and the positions need reading. The first message of each list, and
anything unusual (big-endian CDR), goes through rosbags' decoder; tests/test_convert.py checks the
rows against rosbags-decoded messages.

CDR (XCDR1) layout, offsets relative to the byte after the 4-byte encapsulation header: stamp sec
i32 at 0, nanosec u32 at 4, frame_id (u32 length incl. NUL, bytes) at 8, then names (u32 count,
each string 4-aligned), then position (u32 count, 4-aligned; float64 values 8-aligned).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from dreamgen_core.bag.schema import typestore
from dreamgen_core.timeline import NS

JOINT_STATE = "sensor_msgs/msg/JointState"
_BASE = 4  # the encapsulation header
_KNOWN_LISTS = 8  # a robot sends one or two name lists (body and hands apart); never grow unbounded
_U32 = struct.Struct("<I")
_STAMP = struct.Struct("<iI")


def _align(offset: int, size: int) -> int:
    return -(-offset // size) * size


class JointStateDecoder:
    """`decode(cdr)` → (header stamp in ns, joint names, positions as float64)."""

    def __init__(self) -> None:
        self._lists: list[tuple[bytes, tuple[str, ...]]] = []  # encoded name list → names

    def decode(self, data: memoryview) -> tuple[int, tuple[str, ...], np.ndarray]:
        if data[1] != 1:  # big-endian CDR: rare, and rosbags reads it
            return self._slow(data)
        sec, nanosec = _STAMP.unpack_from(data, _BASE)
        names_at = _align(12 + _U32.unpack_from(data, _BASE + 8)[0], 4)
        for encoded, names in self._lists:
            if data[_BASE + names_at: _BASE + names_at + len(encoded)] == encoded:
                return sec * NS + nanosec, names, self._positions(data, names_at + len(encoded))
        return self._slow(data, names_at)

    @staticmethod
    def _positions(data: memoryview, offset: int) -> np.ndarray:
        count_at = _align(offset, 4)
        (count,) = _U32.unpack_from(data, _BASE + count_at)
        return np.frombuffer(data, "<f8", count, _BASE + _align(count_at + 4, 8)).astype(np.float64)

    def _slow(self, data: memoryview, names_at: int | None = None) -> tuple[int, tuple[str, ...], np.ndarray]:
        msg: Any = typestore().deserialize_cdr(data, JOINT_STATE)
        names = tuple(msg.name)
        if names_at is not None and len(self._lists) < _KNOWN_LISTS:  # later messages match it by its bytes
            end = names_at + 4
            for name in names:
                end = _align(end, 4) + 4 + len(name.encode()) + 1
            self._lists.append((bytes(data[_BASE + names_at: _BASE + end]), names))
        stamp = msg.header.stamp
        return int(stamp.sec) * NS + int(stamp.nanosec), names, np.asarray(msg.position, dtype=np.float64)
