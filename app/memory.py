"""Handing memory freed by a training back to the operating system.

A training allocates in proportion to every stored interaction and frees it
all when it ends, but glibc's allocator keeps freed heap pages for reuse, so
a long-running process's resident memory climbs to its largest training and
stays there as the data grows. `malloc_trim` returns those pages.
"""

import ctypes
import ctypes.util
import sys
from functools import cache


@cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    # musl (Alpine) has no malloc_trim; its allocator returns memory itself.
    return getattr(libc, "malloc_trim", None)


def release_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
