"""An episode's MCAP file read once: one sequential pass, then random access to what it found.

A GR1 episode is ~90 MB of raw camera per second, so every byte the converter touches counts.
`scan` walks the records in file order exactly once: each chunk is CRC-checked while it is hot,
and messages come back as zero-copy views with a `Locator`. The episode's idempotency key,
`content_key`, comes out of the same pass at no extra cost: the sha256 of the file in which each
chunk's content is stood for by its CRC-32 (just checked against that content). Every byte of the
file thus determines the key, but only the small non-pixel records are hashed: a full sha256 of a
GR1 episode costs a quarter of its whole conversion. (Key collisions would need two recordings
with the same message indexes, i.e. the same nanosecond timing, and equal CRCs of every chunk.)

Camera pixels are then read through `message(locator)` only for the frames a dataset uses: for
uncompressed chunks (the recorder's default) that is a view of the memory map, never a second
read or CRC; a compressed chunk is decompressed again (not re-checked).
Record layout: https://mcap.dev/spec (opcode u8, length u64, little-endian fields).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import struct
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import lz4.frame
import zstandard
from isal.isal_zlib import crc32  # ISA-L: ~7 GB/s where zlib's is ~1; MCAP's CRC is zlib's CRC-32
from typing_extensions import Self

MAGIC = b"\x89MCAP0\r\n"
SCHEMA, CHANNEL, MESSAGE, CHUNK, DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F
_RECORD = struct.Struct("<BQ")
_CHUNK = struct.Struct("<QQQI")  # message start/end time, uncompressed size, uncompressed CRC
_MESSAGE = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time
_DECOMPRESS: dict[str, Callable[[bytes, int], bytes]] = {
    "lz4": lambda data, size: lz4.frame.decompress(data),
    "zstd": lambda data, size: zstandard.ZstdDecompressor().decompress(data, max_output_size=size),
}


class McapError(ValueError):
    """The file is not a readable MCAP; the message says where and why (no path: the caller adds it)."""


@dataclass(frozen=True)
class Locator:
    """Where a message's bytes are: chunk `chunk` (-1: outside chunks), [start, end) of its records."""

    chunk: int
    start: int
    end: int


@dataclass(frozen=True)
class Channel:
    topic: str
    msgtype: str  # the schema name, e.g. sensor_msgs/msg/Image


@dataclass(frozen=True)
class _Chunk:
    offset: int  # of the records in the file
    length: int
    compression: str
    size: int  # uncompressed


class McapFile:
    """`with McapFile(path) as f: for topic, data, where in f.scan(topics): …; f.message(where)`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.channels: dict[int, Channel] = {}
        self._schemas: dict[int, str] = {}
        self._chunks: list[_Chunk] = []
        self._key = hashlib.sha256()
        self._cached: tuple[int, bytes] | None = None  # one decompressed chunk, for `message`
        with open(path, "rb") as f:
            if f.seek(0, 2) < len(MAGIC):
                raise McapError("not a readable MCAP file: shorter than its magic bytes")
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._view = memoryview(self._map)
        if self._view[: len(MAGIC)] != MAGIC:
            self.close()
            raise McapError("not a readable MCAP file: wrong magic bytes")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._cached = None
        self._view.release()
        with contextlib.suppress(BufferError):  # a caller still holds a view: it closes when dropped
            self._map.close()

    @property
    def content_key(self) -> str:
        """The file's content key (see the module's doc); complete once `scan` has run to the end."""
        return self._key.hexdigest()

    def scan(self, topics: set[str]) -> Iterator[tuple[Channel, memoryview, Locator]]:
        """(channel, CDR bytes, locator) of every message on `topics`, in file order; CRCs checked."""
        view, pos, hashed = self._view, len(MAGIC), 0
        while True:
            if pos + _RECORD.size > len(view):
                raise McapError(f"not a readable MCAP file: truncated at byte {pos} (no data-end record)")
            opcode, length = _RECORD.unpack_from(view, pos)
            body = pos + _RECORD.size
            if opcode == 0 or body + length > len(view):
                raise McapError(f"not a readable MCAP file: record at byte {pos} (opcode {opcode:#04x}, {length} "
                                f"bytes) does not fit the file of {len(view)} bytes: truncated or corrupt")
            if opcode == CHUNK:
                records, crc = yield from self._chunk_messages(body, length, topics)
                self._key.update(view[hashed: records.start])  # up to the chunk's content, CRC included
                self._key.update(view[records] if not crc else b"")  # no CRC written: hash the content
                hashed = records.stop
            elif opcode in (SCHEMA, CHANNEL):
                self._register(opcode, view[body: body + length])
            elif opcode == MESSAGE:
                yield from self._messages(view, body, body + length, -1, topics)
            elif opcode == DATA_END:
                self._key.update(view[hashed:])
                return
            pos = body + length

    def message(self, where: Locator) -> memoryview:
        """The CDR bytes a `scan` located (a view: no copy for uncompressed chunks)."""
        records = self._view if where.chunk < 0 else self._records(where.chunk)
        return records[where.start: where.end]

    # -- internals -------------------------------------------------------------------------------
    def _chunk_messages(self, body: int, length: int, topics: set[str]) -> Generator[
            tuple[Channel, memoryview, Locator], None, tuple[slice, int]]:
        """Check one chunk and yield its messages; returns where its content is in the file, and its CRC."""
        view = self._view
        _, _, size, crc = _CHUNK.unpack_from(view, body)
        compression, pos = _string(view, body + _CHUNK.size)
        (records_length,) = struct.unpack_from("<Q", view, pos)
        pos += 8
        if pos + records_length > body + length or (compression and compression not in _DECOMPRESS):
            raise McapError(f"corrupt MCAP chunk at byte {body}: records overrun the chunk or unknown "
                            f"compression {compression!r}")
        index = len(self._chunks)
        self._chunks.append(_Chunk(pos, records_length, compression, size))
        records = self._records(index)
        if crc and crc32(records) != crc:
            raise McapError(f"corrupt MCAP chunk at byte {body}: CRC mismatch (damaged file)")
        yield from self._messages(records, 0, len(records), index, topics)
        return slice(pos, pos + records_length), crc

    def _records(self, index: int) -> memoryview:
        chunk = self._chunks[index]
        raw = self._view[chunk.offset: chunk.offset + chunk.length]
        if not chunk.compression:
            return raw
        if self._cached is None or self._cached[0] != index:
            try:
                self._cached = index, _DECOMPRESS[chunk.compression](bytes(raw), chunk.size)
            except Exception as exc:  # lz4/zstandard raise their own types for damaged frames
                raise McapError(f"corrupt MCAP chunk at byte {chunk.offset}: {chunk.compression}: {exc}") from exc
        return memoryview(self._cached[1])

    def _messages(self, records: memoryview, pos: int, end: int, chunk: int,
                  topics: set[str]) -> Iterator[tuple[Channel, memoryview, Locator]]:
        while pos < end:
            if pos + _RECORD.size > end:
                raise McapError(f"corrupt MCAP chunk {chunk}: a record header at {pos} overruns its chunk")
            opcode, length = _RECORD.unpack_from(records, pos)
            body = pos + _RECORD.size
            if body + length > end:
                raise McapError(f"corrupt MCAP chunk {chunk}: record at {pos} ({length} bytes) overruns its chunk")
            if opcode == MESSAGE:
                channel_id = _MESSAGE.unpack_from(records, body)[0]
                channel = self.channels.get(channel_id)
                if channel is None:
                    raise McapError(f"corrupt MCAP: message on channel {channel_id}, which was never declared")
                if channel.topic in topics:
                    start = body + _MESSAGE.size
                    yield channel, records[start: body + length], Locator(chunk, start, body + length)
            elif opcode in (SCHEMA, CHANNEL):
                self._register(opcode, records[body: body + length])
            pos = body + length

    def _register(self, opcode: int, body: memoryview) -> None:
        (record_id,) = struct.unpack_from("<H", body, 0)
        if opcode == SCHEMA:
            self._schemas[record_id] = _string(body, 2)[0]
            return
        (schema_id,) = struct.unpack_from("<H", body, 2)
        topic, _ = _string(body, 4)
        self.channels[record_id] = Channel(topic, self._schemas.get(schema_id, ""))


def _string(buffer: memoryview, pos: int) -> tuple[str, int]:
    """A length-prefixed (u32) UTF-8 string at `pos`, and the position after it."""
    (length,) = struct.unpack_from("<I", buffer, pos)
    return bytes(buffer[pos + 4: pos + 4 + length]).decode(), pos + 4 + length
