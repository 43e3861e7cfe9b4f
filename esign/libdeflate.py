"""zlib streams by libdeflate, with one compressor kept per thread.

``deflate.zlib_compress`` makes a new libdeflate compressor for every call: at level 6 some hundreds
of kilobytes of match-finder tables allocated, faulted in and freed again, about a fifth of what
compressing a token costs. The package's extension module also exports libdeflate's own C API
(``libdeflate_alloc_compressor``, ``libdeflate_zlib_compress``), which ``ctypes`` reaches to keep one
compressor for each thread (libdeflate's compressors must not be shared between threads). The output
is the same bytes (same library, same level); where the API is not found, ``deflate.zlib_compress``.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable

import deflate

_BOUND_SLACK = 64  # libdeflate's bound: the input, 5 bytes per 5,000 of it (rounded up), 9 more, 6 of zlib framing


def _api() -> tuple[Callable[..., int], Callable[..., int], Callable[..., None]] | None:
    try:
        lib = ctypes.CDLL(deflate._deflate.__file__)
        alloc, compress, free = lib.libdeflate_alloc_compressor, lib.libdeflate_zlib_compress, lib.libdeflate_free_compressor
    except (OSError, AttributeError):
        return None
    alloc.restype, alloc.argtypes = ctypes.c_void_p, [ctypes.c_int]
    compress.restype = ctypes.c_size_t
    compress.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    return alloc, compress, free


_API = _api()


class _Compressor:
    def __init__(self, level: int) -> None:
        assert _API is not None
        alloc, self._compress, self._free = _API
        self.handle = alloc(level)
        if not self.handle:
            raise MemoryError("libdeflate_alloc_compressor")
        self.out = ctypes.create_string_buffer(4096)

    def __call__(self, data: bytes) -> bytes:
        bound = len(data) + len(data) // 1000 + _BOUND_SLACK
        if len(self.out) < bound:
            self.out = ctypes.create_string_buffer(bound)
        size = self._compress(self.handle, data, len(data), self.out, len(self.out))
        if not size:
            raise deflate.DeflateError("libdeflate_zlib_compress found no room")
        return ctypes.string_at(self.out, size)

    def __del__(self) -> None:
        if getattr(self, "handle", None):
            self._free(self.handle)


_LOCAL = threading.local()


def zlib_compress(data: bytes, level: int) -> bytes:
    """``deflate.zlib_compress(data, level)``, by this thread's compressor for ``level``."""
    if _API is None:
        return deflate.zlib_compress(data, level)
    compressors = getattr(_LOCAL, "compressors", None)
    if compressors is None:
        compressors = _LOCAL.compressors = {}
    compressor = compressors.get(level)
    if compressor is None:
        compressor = compressors[level] = _Compressor(level)
    return compressor(data)
