"""Memory statistics for the cuda backend, read from CuPy's default memory pool.

CuPy's pool knows the bytes in use now but keeps no peak, so the first use of the cuda
backend wraps the current CuPy allocator: after each allocation it notes the pool's bytes in
use on that device (``used_bytes`` is an atomic read in CuPy 13+, so this costs well under a
microsecond per allocation). Allocations made through another allocator that a user installs
later are not seen.
"""
from __future__ import annotations


class MemoryStats:
    """``memory_allocated`` / ``max_memory_allocated`` / ``empty_cache`` over CuPy's pool."""

    def __init__(self, cp):
        self._cp = cp
        self.pool = cp.get_default_memory_pool()
        self._peak: dict = {}
        self._install_peak_tracker()

    def _install_peak_tracker(self):
        inner = self._cp.cuda.get_allocator()
        installed = getattr(inner, "plugtorch_peaks", None)
        if installed is not None:   # already wrapped (another backend instance): share its peaks
            self._peak = installed
            return
        pool, peak = self.pool, self._peak

        def malloc(size):
            mem = inner(size)
            used = pool.used_bytes()
            d = mem.device_id
            if used > peak.get(d, 0):
                peak[d] = used
            return mem

        malloc.plugtorch_peaks = peak
        self._cp.cuda.set_allocator(malloc)

    def allocated(self, index: int) -> int:
        """Bytes held by live arrays on device ``index``."""
        with self._cp.cuda.Device(index):
            return self.pool.used_bytes()

    def reserved(self, index: int) -> int:
        """Bytes the pool holds on device ``index`` (in use plus cached)."""
        with self._cp.cuda.Device(index):
            return self.pool.total_bytes()

    def max_allocated(self, index: int) -> int:
        return max(self._peak.get(index, 0), self.allocated(index))

    def reset_peak(self, index: int) -> None:
        self._peak[index] = self.allocated(index)

    def empty_cache(self, device_count: int) -> None:
        """Give cached, unused blocks back to the driver (live arrays are untouched)."""
        for i in range(device_count):   # the pool frees the current device's blocks only
            with self._cp.cuda.Device(i):
                self.pool.free_all_blocks()
        self._cp.get_default_pinned_memory_pool().free_all_blocks()
