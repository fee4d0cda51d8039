"""The weight blob: every constant a compiled model reads, packed at compile time into one
binary image (64-byte aligned entries). Kernels address it as ``weights + offset``; nothing
of it is spelled out in IR text. JIT keeps it as one aligned NumPy buffer, AOT writes it to
``weights.bin``.
"""

from __future__ import annotations

from typing import Hashable

import numpy as np

ALIGN = 64


class Blob:
    def __init__(self) -> None:
        self._entries: list[tuple[int, np.ndarray]] = []
        self._by_key: dict[Hashable, int] = {}
        self.size = 0

    def add(self, key: Hashable, array: np.ndarray) -> int:
        """Byte offset of ``array`` in the blob, adding it once per ``key``."""
        if key in self._by_key:
            return self._by_key[key]
        arr = np.ascontiguousarray(array)
        off = self.size
        self._entries.append((off, arr))
        self.size = off + _round_up(max(arr.nbytes, 1))
        self._by_key[key] = off
        return off

    def offset(self, key: Hashable) -> int | None:
        return self._by_key.get(key)

    def to_array(self) -> np.ndarray:
        """The blob as one 64-byte aligned uint8 array."""
        buf = aligned_empty(max(self.size, ALIGN))
        for off, arr in self._entries:
            buf[off:off + arr.nbytes] = arr.reshape(-1).view(np.uint8)
        return buf

    def consolidate(self) -> np.ndarray:
        """``to_array()``, after which the entries are views into that one buffer: the packed
        tables built for it can be freed instead of living on as a second copy (VGG-19: the
        JIT held 575 MB of weights twice)."""
        buf = self.to_array()
        self._entries = [(off, buf[off:off + arr.nbytes].view(arr.dtype).reshape(arr.shape))
                         for off, arr in self._entries]
        return buf

    def write(self, path: str) -> None:
        """Stream the blob to a file without building it in memory."""
        with open(path, "wb") as f:
            pos = 0
            for off, arr in self._entries:
                if off > pos:
                    f.write(b"\0" * (off - pos))
                f.write(memoryview(arr.reshape(-1).view(np.uint8)))
                pos = off + arr.nbytes
            if self.size > pos:
                f.write(b"\0" * (self.size - pos))


def _round_up(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


def aligned_empty(nbytes: int, align: int = ALIGN) -> np.ndarray:
    """A zeroed uint8 array of ``nbytes`` whose data pointer is ``align``-byte aligned."""
    raw = np.zeros(nbytes + align, np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + nbytes]
