"""The optional C launch paths (``_fastlaunch.c``): loaded once, or None, and then the Python
paths run.

The extension is built by ``pip install`` where a C compiler and the Python headers are
present (setup.py marks it optional). It links no OpenCL library: ``init`` hands it the
addresses of ``clSetKernelArg`` and ``clEnqueueNDRangeKernel`` in the ICD loader PyOpenCL
itself loaded (found in ``/proc/self/maps``; elsewhere the Python paths run).
``PLUGTORCH_OPENCL_NO_EXT=1`` forces the Python paths.

>>> ext()                      # doctest: +SKIP
<module 'plugtorch.backends.opencl._fastlaunch' ...>
"""
from __future__ import annotations

import os

_EXT = False   # not tried yet
VERSION = 3    # _fastlaunch.c's FASTLAUNCH_VERSION: a build of another source is not used

# the OpenCL error codes a launch can return (cl.h), for the messages
CL_ERRORS = {
    -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
    -36: "CL_INVALID_COMMAND_QUEUE", -38: "CL_INVALID_MEM_OBJECT", -48: "CL_INVALID_KERNEL",
    -49: "CL_INVALID_ARG_INDEX", -50: "CL_INVALID_ARG_VALUE", -51: "CL_INVALID_ARG_SIZE",
    -52: "CL_INVALID_KERNEL_ARGS", -53: "CL_INVALID_WORK_DIMENSION", -54: "CL_INVALID_WORK_GROUP_SIZE",
    -55: "CL_INVALID_WORK_ITEM_SIZE", -56: "CL_INVALID_GLOBAL_OFFSET", -63: "CL_INVALID_GLOBAL_WORK_SIZE",
}


def disabled() -> bool:
    return os.environ.get("PLUGTORCH_OPENCL_NO_EXT", "0") not in ("", "0")


def ext():
    """The initialised ``_fastlaunch`` module, or None (not built, disabled, no ICD loader found)."""
    global _EXT
    if _EXT is False:
        _EXT = _load()
    return _EXT


def release_idle() -> None:
    """Give the extension's idle parked buffers (its caching allocator for small outputs, see
    ``_fastlaunch.c``) back to their pools: before memory is counted, or the pool emptied."""
    if _EXT:
        _EXT.release_idle()


def idle_bytes(pool) -> int:
    """The bytes of ``pool.active_bytes`` that are idle parked buffers (not in use)."""
    return _EXT.idle_bytes(pool) if _EXT else 0


def launch_error(name, call, code) -> RuntimeError:
    """The error of a failed launch of op ``name``'s kernel (the C and the Python paths alike)."""
    return RuntimeError(f"opencl: {call} failed with error {code} ({CL_ERRORS.get(code, 'an OpenCL error')}) "
                        f"launching the kernel of '{name}'; the device may be out of resources or its "
                        "queue unusable")


def from_cl_error(name, e) -> RuntimeError:
    """``launch_error`` for a pyopencl.Error raised by a launch from Python."""
    return launch_error(name, getattr(e, "routine", None) or "clEnqueueNDRangeKernel", getattr(e, "code", 0))


def _load():
    if disabled():
        return None
    try:
        from plugtorch.backends.opencl import _fastlaunch as m
    except ImportError:
        return None
    if getattr(m, "VERSION", None) != VERSION:   # built from an older _fastlaunch.c: reinstall
        return None
    try:
        import pyopencl  # noqa: F401 (loads the ICD library whose entry points the extension calls)
        addresses = _entry_points()
    except Exception:   # (ctypes missing, an odd /proc): the Python paths work everywhere
        return None
    if addresses is None:
        return None
    from plugtorch.backends.opencl.buffer import CLArray
    from plugtorch.backends.opencl.kernels.pointwise import LOCAL, SPLIT
    from plugtorch.backends.opencl.runtime import LOCK
    try:
        m.init(CLArray, LOCK, *addresses, SPLIT, LOCAL, launch_error)
    except (TypeError, ValueError):   # (an extension older than CLArray's slots: rebuild it)
        return None
    return m


def _entry_points():
    """(clSetKernelArg, clEnqueueNDRangeKernel) addresses in the loaded OpenCL library, or None."""
    import ctypes
    path = icd_library()
    if path is None:
        return None
    lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_NOW)   # only the copy already loaded
    return tuple(ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
                 for name in ("clSetKernelArg", "clEnqueueNDRangeKernel"))


def icd_library():
    """The path of the OpenCL library loaded in this process (PyOpenCL's first), or None."""
    try:
        with open("/proc/self/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found = []
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) == 6 and os.path.basename(parts[5]).startswith("libOpenCL"):
            if parts[5] not in found:
                found.append(parts[5])
    if not found:
        return None
    import pyopencl
    home = os.path.dirname(pyopencl.__file__)
    found.sort(key=lambda p: not p.startswith(home))
    return found[0]


def fused(fk):
    """A fused group's kernel (kernels/fused.py's FusedKernel) with its contiguous calls in C, or
    ``fk`` itself (no extension, no contiguous kernel, an empty group, too many operands). A
    kernel whose program is built later (``fusion.deferred_builds()``) is taken at its first call."""
    m = ext()
    if (m is None or fk.n == 0 or fk.plan.bcast or not fk.launches or len(fk.out_specs) > 8
            or len(fk.plan.in_dts) > 32):
        return fk
    name = "fused " + " -> ".join(st.op for st in fk.group.steps)
    return m.Fused(name, fk, fk.dev, fk.dev.pool, fk.k0, fk.dev.queue, tuple(fk.shape), tuple(fk.strides),
                   list(fk.out_specs), list(fk.full), len(fk.plan.in_dts), list(fk.launches))


def replay(kernel, **spec):
    """``_fastlaunch.Replay``: fused kernel ``kernel`` (one ``fused`` made) run behind the checks
    ``spec`` lists, in C (see _fastlaunch.c for the fields), or None where the extension is absent
    or ``kernel`` is not its Fused. ``replay(owner, args)`` returns the wrapped output, or
    ``spec["miss"]`` having run nothing."""
    m = ext()
    if m is None or type(kernel) is not m.Fused or len(spec["kargs"]) > 32 or len(spec["expect"]) > 8 \
            or len(spec["env"]) > 8 or len(spec["names"]) > 4:
        return None
    return m.Replay(kernel=kernel, **spec)
