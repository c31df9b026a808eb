"""glibc's malloc tuned for tensors: large temporaries reused from the heap, not mmap'd afresh.

NumPy allocates every result. glibc serves a block above its mmap threshold (128 KiB at start,
raised on the fly up to 32 MiB as large blocks are freed) with a fresh mmap and gives it back on
free, so every large temporary costs a page fault per 4 KiB page on first write: an 800K-element
float32 multiply took 1.43-1.70 ms in NumPy alone, 0.17-0.26 ms with the block taken from the
heap (one thread, 2026-12-07). Whole models, cpu, one thread (a small CNN's training step, a
transformer layer's, a MobileNet block's): 1.3-1.6x faster. PyTorch's CPU tensors go through the
same malloc (its tuning guide advises jemalloc or tcmalloc for this).

At import plugtorch sets, where the process runs on glibc and the program has not chosen itself:
``M_MMAP_THRESHOLD`` 64 MiB (blocks up to that come from the heap and are reused) and
``M_TRIM_THRESHOLD`` 256 MiB (the heap keeps up to that much freed memory instead of returning it
to the system at once; ``malloc_trim`` still can). Set ``PLUGTORCH_MALLOC_TUNING=0`` to leave
malloc alone; ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` in the environment (glibc's own
settings) leave it alone too, and so does ``GLIBC_TUNABLES`` naming ``glibc.malloc.mmap_threshold`` or
``glibc.malloc.trim_threshold``. Older glibc caps the mmap threshold at 32 MiB (64-bit); there
it is set to that cap.
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20

tuned = False   # whether tune() changed malloc's settings in this process


def _chosen_by_program(environ) -> bool:
    """Whether the environment already sets glibc's thresholds (its variables or GLIBC_TUNABLES)."""
    if any(k in environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return True
    tunables = environ.get("GLIBC_TUNABLES", "")
    return "glibc.malloc.mmap_threshold" in tunables or "glibc.malloc.trim_threshold" in tunables


def _set(mallopt) -> bool:
    """Set the thresholds through ``mallopt``; whether both took.

    older glibc (2.17-2.34 at least) refuses an mmap threshold above ``HEAP_MAX_SIZE / 2`` (its documented maximum,
    ``DEFAULT_MMAP_THRESHOLD_MAX``: 32 MiB on 64-bit, 512 KiB on 32-bit) and returns 0; that maximum
    is used there instead. The trim threshold is set either way.
    """
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not ok:
        limit = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long) if ctypes.sizeof(ctypes.c_long) >= 8 else 512 * 1024
        ok = bool(mallopt(M_MMAP_THRESHOLD, min(limit, MMAP_THRESHOLD)))
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and ok


def tune() -> bool:
    """Set glibc's thresholds (once); whether they are set."""
    global tuned
    if tuned:
        return True
    if os.environ.get("PLUGTORCH_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux") or _chosen_by_program(os.environ):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version      # (glibc only: musl has no mallopt thresholds)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    tuned = _set(mallopt)
    return tuned
