"""`DataFiles`: the SST `File` entries a backup lists, kept compact.

A backup of 10^6 SSTs lists 10^6 `File` messages. As protobuf objects they cost about a
kilobyte each and keep every parsed meta file alive; here each is kept as its encoding
(about 200 bytes), packed one after the other with an offset table, and parsed only when
asked for. A large backup's list is packed into unnamed temporary files (deleted when
closed, and at exit), so that in memory it costs 8 bytes a file.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, ClassVar, overload

from .proto import brpb_pb2 as brpb

Raw = bytes | bytearray | memoryview
"""The encoding of one `File` message."""

_NAME_TAG = 0x0A  # field 1 (name), length-delimited
_SPILL_BLOCK = 1 << 20  # bytes written to, and read back from, a spill file at a time


def name_of(raw: Raw) -> str:
    """The `name` of the `File` encoded as `raw`, read without parsing the rest (a
    `DataFiles` only holds encodings whose name comes first, once: see `canonical`)."""
    if len(raw) >= 2 and raw[0] == _NAME_TAG:
        size, start = raw[1], 2
        if size & 0x80:
            if len(raw) < 3 or raw[2] & 0x80:  # a name of 16 KiB or more
                return str(brpb.File.FromString(bytes(raw)).name)
            size, start = (size & 0x7F) | (raw[2] << 7), 3
        return bytes(raw[start : start + size]).decode()
    return str(brpb.File.FromString(bytes(raw)).name)


def canonical(raw: Raw) -> tuple[brpb.File, Raw]:
    """`raw` parsed, and an encoding of it that `name_of` reads right: `raw` itself, or
    the message encoded again when its name is not the first field (or repeated)."""
    parsed = brpb.File.FromString(bytes(raw))
    if parsed.name and name_of(raw) != parsed.name:
        return parsed, parsed.SerializeToString()
    return parsed, raw


class DataFilesBuilder:
    """Packs `File` encodings, in order, into one part of a `DataFiles`: in memory, or
    (`spill=True`, for long lists) in an unnamed temporary file, so that the list costs
    8 bytes a file of memory, read back with `pread` when a file is asked for (a few
    microseconds more than from memory)."""

    def __init__(self, *, spill: bool = False) -> None:
        self.offsets = array("Q", [0])
        self._memory = bytearray()
        self._may_spill = spill
        self._spill: BinaryIO | None = None
        self._size = 0

    def add(self, raw: Raw) -> None:
        self._memory += raw
        self._size += len(raw)
        self.offsets.append(self._size)
        if self._may_spill and len(self._memory) >= _SPILL_BLOCK:
            if self._spill is None:
                # Lives as long as the `DataFiles` that reads it; closing it deletes it.
                self._spill = tempfile.TemporaryFile(prefix="br-parquet-files-")  # noqa: SIM115
            self._spill.write(self._memory)
            self._memory = bytearray()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def finish(self) -> PackedFiles:
        """The packed part; the builder is not used afterwards."""
        if self._spill is None:
            return PackedFiles(self.offsets, self._memory, None)
        self._spill.write(self._memory)
        self._spill.flush()
        self._memory = bytearray()
        return PackedFiles(self.offsets, None, self._spill)


class PackedFiles:
    """Encodings packed one after the other, in memory or in a file, with their offsets:
    what a `DataFilesBuilder` makes and a `DataFiles` is made of."""

    __slots__ = ("file", "memory", "offsets")

    def __init__(
        self, offsets: array[int], memory: bytearray | None, file: BinaryIO | None
    ) -> None:
        self.offsets = offsets
        self.memory = memory
        self.file = file

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def read(self, start: int, end: int) -> bytes:
        if self.memory is not None:
            return bytes(self.memory[start:end])
        assert self.file is not None
        return os.pread(self.file.fileno(), end - start, start)

    def raws(self) -> Iterator[bytes]:
        offsets = self.offsets
        if self.memory is not None:
            view = memoryview(self.memory)
            for i in range(len(offsets) - 1):
                yield view[offsets[i] : offsets[i + 1]].tobytes()
            return
        # Sequentially, a block of whole encodings at a time.
        i, count = 0, len(offsets) - 1
        while i < count:
            j = bisect_right(offsets, offsets[i] + _SPILL_BLOCK, i + 1, count + 1) - 1
            j = max(j, i + 1)
            base = offsets[i]
            block = self.read(base, offsets[j])
            for k in range(i, j):
                yield block[offsets[k] - base : offsets[k + 1] - base]
            i = j


class DataFiles(Sequence[brpb.File]):
    """An immutable sequence of `File` messages, stored encoded (see the module doc).

    Items are parsed on each access: keep what you need of them, not the messages.
    """

    __slots__ = ("_firsts", "_parts")
    __hash__: ClassVar[None]  # type: ignore[assignment]

    def __init__(self, parts: Iterable[PackedFiles] = ()) -> None:
        self._parts: list[PackedFiles] = []
        self._firsts: list[int] = []
        count = 0
        for part in parts:
            if not len(part):
                continue
            self._parts.append(part)
            self._firsts.append(count)
            count += len(part)
        self._firsts.append(count)

    @classmethod
    def of(cls, files: Iterable[brpb.File]) -> DataFiles:
        """The sequence of `files` (messages), e.g. a backupmeta's inline v1 list."""
        builder = DataFilesBuilder()
        for f in files:
            builder.add(canonical(f.SerializeToString())[1])
        return cls([builder.finish()])

    def __len__(self) -> int:
        return self._firsts[-1]

    def raw(self, index: int) -> bytes:
        """The encoding of file `index`."""
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("data file index out of range")
        n = bisect_right(self._firsts, index) - 1
        part = self._parts[n]
        i = index - self._firsts[n]
        return part.read(part.offsets[i], part.offsets[i + 1])

    def name(self, index: int) -> str:
        """The name of file `index` (without parsing the rest)."""
        return name_of(self.raw(index))

    @overload
    def __getitem__(self, index: int) -> brpb.File: ...

    @overload
    def __getitem__(self, index: slice) -> list[brpb.File]: ...

    def __getitem__(self, index: int | slice) -> brpb.File | list[brpb.File]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return brpb.File.FromString(self.raw(index))

    def raws(self) -> Iterator[bytes]:
        """Every file's encoding, in order."""
        for part in self._parts:
            yield from part.raws()

    def __iter__(self) -> Iterator[brpb.File]:
        for raw in self.raws():
            yield brpb.File.FromString(raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DataFiles):
            return list(self.raws()) == list(other.raws())
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"DataFiles({len(self)} files)"

    @property
    def spilled(self) -> bool:
        """Whether some encodings are in temporary files (read back with a system call)."""
        return any(part.file is not None for part in self._parts)


def data_files_of(files: Sequence[brpb.File]) -> DataFiles:
    """`files` as a `DataFiles` (itself when it is one)."""
    return files if isinstance(files, DataFiles) else DataFiles.of(files)
