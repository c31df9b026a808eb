"""One OpenCL device in use: context, in-order queue, memory pool, compiled-program cache.

Programs are built from generated source once per device and source: in memory here, and on
disk by the driver, so a second process does not recompile: PoCL keeps its own kernel cache
(``~/.cache/pocl``, or ``POCL_CACHE_DIR``), and PyOpenCL then stands its binary cache aside;
drivers without one get PyOpenCL's (under ``~/.cache/plugtorch/opencl``).
"""
from __future__ import annotations

import functools
import os
import threading
import time

import numpy as np

from plugtorch._caches import Memo
from plugtorch.backends.opencl.buffer import CLArray
from plugtorch.backends.opencl.fastlaunch import idle_bytes, release_idle
from plugtorch.backends.opencl.cltypes import PRELUDE

CACHE_DIR = os.environ.get("PLUGTORCH_OPENCL_CACHE",
                           os.path.join(os.path.expanduser("~"), ".cache", "plugtorch", "opencl"))
STATS = {"programs_built": 0, "build_seconds": 0.0, "kernels": 0}

# One lock serialises the host side of the backend: a kernel sets its arguments on a cached
# cl.Kernel and then enqueues it, allocates from the memory pool and fills the program and
# kernel caches, none of which may interleave with another thread doing the same. The device
# still runs the enqueued work asynchronously, so threads lose little by queueing here.
LOCK = threading.RLock()


def locked(fn):
    """``fn`` run while holding ``LOCK`` (every kernel of the table, and host transfers)."""
    @functools.wraps(fn)
    def run(*args):
        with LOCK:
            return fn(*args)
    return run


class DeviceState:
    def __init__(self, cl, device, index):
        import pyopencl.tools as cltools
        self.cl = cl
        self.device = device
        self.index = index
        self.name = device.name
        self.ctx = cl.Context([device])
        self.queue = cl.CommandQueue(self.ctx)
        self.pool = cltools.MemoryPool(cltools.ImmediateAllocator(self.queue))
        ext = device.extensions.split()
        self.fp64 = "cl_khr_fp64" in ext
        self.fp16 = "cl_khr_fp16" in ext
        self.is_cpu = int(bool(device.type & cl.device_type.CPU))
        self.peak = 0
        self._programs = Memo(1024, invalidate=False)   # key -> built cl.Program
        self.kernels = Memo(4096, invalidate=False)     # (key, name) -> cl.Kernel
        self._options = ["-DUSE_FP64"] if self.fp64 else []

    # --- memory ----------------------------------------------------------------------------
    def alloc(self, nbytes):
        pool = self.pool
        try:
            buf = pool.allocate(nbytes or 1)
        except self.cl.Error:
            buf = self._alloc_after_emptying(nbytes or 1)
        buf.plugtorch_nbytes = nbytes   # the pool rounds sizes up; a storage's nbytes() is this
        a = pool.active_bytes - idle_bytes(pool)
        if a > self.peak:
            self.peak = a
        return buf

    def _alloc_after_emptying(self, nbytes):
        pool = self.pool
        release_idle()   # (the C launch paths' cached buffers)
        pool.free_held()
        try:
            return pool.allocate(nbytes)
        except self.cl.Error as e:
            raise RuntimeError(
                f"opencl: out of memory on '{self.name}' allocating {nbytes} bytes "
                f"({pool.active_bytes} bytes in use); free tensors or use smaller batches "
                f"({type(e).__name__}: {e})") from None

    def empty(self, shape, dtype):
        n = 1
        for s in shape:
            n *= s
        return CLArray(self, self.alloc(n * dtype.itemsize), tuple(shape), dtype)

    # --- programs --------------------------------------------------------------------------
    def program(self, key, source):
        """A built program for ``source`` (a string, or a function making it, called only when
        the program is not built yet), cached in memory by ``key`` and on disk by source."""
        prg = self._programs.get(key)
        if prg is None:
            if callable(source):
                source = source()
            t = time.perf_counter()
            prg = self.cl.Program(self.ctx, PRELUDE + source).build(
                options=self._options, cache_dir=CACHE_DIR)
            STATS["programs_built"] += 1
            STATS["build_seconds"] += time.perf_counter() - t
            self._programs[key] = prg
        return prg

    def kernel(self, key, source, name, scalar_types):
        """Kernel ``name`` from the program for ``key``; ``scalar_types`` as for set_scalar_arg_dtypes."""
        k = self.kernels.get((key, name))
        if k is None:
            k = self.cl.Kernel(self.program(key, source), name)
            k.set_scalar_arg_dtypes(scalar_types)
            self.kernels[(key, name)] = k
            STATS["kernels"] += 1
        return k

    def launch(self, kernel, n, local=64):
        """Enqueue ``kernel`` (args already set) over ``n`` work-items, padded to ``local``."""
        if n <= 0:   # an empty range is an error in OpenCL (PoCL even dies of SIGFPE)
            return
        g = (n + local - 1) // local * local
        self.cl.enqueue_nd_range_kernel(self.queue, kernel, (g,), (local,))


@locked
def to_host(arr: CLArray) -> np.ndarray:
    """Blocking read of a (possibly strided) CLArray into a new NumPy array."""
    cl = arr.dev.cl
    out = np.empty(arr.shape, dtype=arr.dtype)
    if arr.size == 0:
        return out
    if arr.contiguous:
        cl.enqueue_copy(arr.dev.queue, out, arr.data, src_offset=arr.offset * arr.itemsize)
        return out
    from plugtorch.backends.opencl.kernels.copy import contiguous
    return to_host(contiguous(arr))


@locked
def from_host(dev: DeviceState, a: np.ndarray) -> CLArray:
    if not a.flags.c_contiguous:
        a = a.copy()   # np.ascontiguousarray would turn a 0-d array into 1-d
    out = dev.empty(a.shape, a.dtype)
    if a.size:  # blocking, as PyTorch's copy from pageable host memory is
        dev.cl.enqueue_copy(dev.queue, out.data, a)
    return out


_STATES: dict = {}
_DEVICES: list = []   # the ordered cl.Device list, filled by the backend


def state(index) -> DeviceState:
    """The DeviceState of ``opencl:index`` (created on first use)."""
    s = _STATES.get(index)
    if s is None:
        with LOCK:
            s = _STATES.get(index)
            if s is None:
                s = _new_state(index)
    return s


def _new_state(index):
    from plugtorch.backends.opencl.platforms import import_pyopencl
    if not _DEVICES:
        from plugtorch.backends import get_backend
        get_backend("opencl").device_count()
    s = _STATES[index] = DeviceState(import_pyopencl(), _DEVICES[index or 0], index or 0)
    return s
