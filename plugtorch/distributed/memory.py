"""Keep freed host memory in the process while it trains with others.

A data-parallel rank allocates and frees the same few-megabyte buffers every step (gradients,
bucket staging, temporaries). glibc's malloc returns the top of its heap to the OS when more
than a little is free, so the next step faults the pages in again: measured on
benchmarks/distributed.py (784-1024-1024-10 MLP, 2 ranks on 2 cores), about 3,000 minor page
faults per step and 28 ms of CPU per step where 21 ms is the work, 2-rank scaling 1.03x
instead of 1.34x. PyTorch avoids it with its own caching allocator; plugtorch asks malloc to
keep 64 MiB of padding at the top of the heap (``mallopt(M_TOP_PAD)``, the setting
``MALLOC_TOP_PAD_`` makes from the environment) when a process group starts.

It is left alone when the user set ``MALLOC_TOP_PAD_`` themselves, when
``PLUGTORCH_KEEP_FREED_MEMORY=0``, and off glibc.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TOP_PAD = -2                 # glibc's malloc.h
TOP_PAD_BYTES = 64 * 2 ** 20


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep 64 MiB free at the top of the heap; whether it did."""
    if not sys.platform.startswith("linux") or "MALLOC_TOP_PAD_" in os.environ \
            or os.environ.get("PLUGTORCH_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_TOP_PAD, TOP_PAD_BYTES) == 1
