"""OpenCLBackend: devices of every OpenCL platform, CLArray native arrays, generated kernels."""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.backends.base import Backend, float8_unsupported
from plugtorch.backends.opencl import fastlaunch, runtime
from plugtorch.backends.opencl.platforms import describe, enumerate_devices

_UINT8 = _dtypes.uint8.numpy


class OpenCLBackend(Backend):
    """The ``opencl`` device type (PyOpenCL; PoCL gives every machine a CPU device).

    float64 needs cl_khr_fp64. float16 and bfloat16 are stored as 16-bit words and computed in
    float, rounded on store as on cpu, so every device supports them (no cl_khr_fp16 needed).
    complex64 and complex128 are float2 and double2 (complex128 needs cl_khr_fp64 too); the ops
    without a complex kernel raise MissingCapabilityError (see ``declarations()``).
    """

    name = "opencl"
    supports_complex = True
    dlpack_device_type = 4   # kDLOpenCL: __dlpack_device__ answers; export only as a host copy

    def __init__(self):
        self._devices = None
        self._problem = None
        self._kernels = None

    def _scan(self):
        if self._devices is None:
            with runtime.LOCK:
                if self._devices is None:
                    devices, self._problem = enumerate_devices()
                    runtime._DEVICES[:] = devices
                    self._devices = devices
        return self._devices

    @property
    def kernels(self):
        if self._kernels is None:
            from plugtorch.backends.opencl.kernels import kernel_table
            self._kernels = kernel_table() if self._scan() else {}
        return self._kernels

    # --- devices -------------------------------------------------------------------------
    def device_count(self) -> int:
        return len(self._scan())

    def unavailable_reason(self):
        self._scan()
        return self._problem

    def device_name(self, index=0) -> str:
        return describe(self._scan()[index or 0])

    def check_device(self, dev) -> None:
        if not self._scan():
            raise RuntimeError(f"device '{dev}' is not available: {self._problem}")
        super().check_device(dev)

    def unsupported_dtype(self, dtype, index):
        devs = self._scan()
        if not devs:
            return self._problem
        if dtype in _dtypes.float8_dtypes:
            return float8_unsupported(self.name)
        d = devs[index or 0]
        ext = d.extensions.split()
        if (dtype is _dtypes.float64 or dtype is _dtypes.complex128) and "cl_khr_fp64" not in ext:
            return f"the OpenCL device '{d.name}' lacks the cl_khr_fp64 extension"
        return None

    def declarations(self):
        """The factorisations and special functions without an OpenCL kernel (SVD, eigh, least
        squares, the Bessel functions ...): they run through host memory, which the conformance
        suite reports as "via host"."""
        from plugtorch.dispatch.host import host_ops
        if not self._scan():
            return []
        ops = host_ops(self.kernels)
        lines = [f"via host: {', '.join(ops)} (no OpenCL kernel: copied to the host, run by the cpu kernels "
                 "(NumPy's LAPACK, pocketfft, scipy.special), copied back)"] if ops else []
        from plugtorch.backends.opencl.kernels import without_complex
        return lines + [f"complex64/complex128: no kernel for {', '.join(without_complex(self.kernels))} "
                        "(MissingCapabilityError naming op, dtype and device)"]

    # --- data ----------------------------------------------------------------------------
    def from_numpy(self, array, index):
        self._scan()
        return runtime.from_host(runtime.state(index), array)

    def to_numpy(self, native):
        return runtime.to_host(native)

    def strides(self, native):
        return tuple(native.strides)

    def storage_offset(self, native):
        return native.offset

    def data_ptr(self, native):   # the cl_mem handle plus the byte offset: equal for the same element
        return native.data.int_ptr + native.offset * native.itemsize

    def storage_bytes(self, native):   # (the pool rounds allocations up: nbytes is what was asked for)
        buf = native.data
        return runtime.CLArray(native.dev, buf, (getattr(buf, "plugtorch_nbytes", buf.size),), _UINT8)

    def view_storage(self, storage, dtype, size, stride, offset):
        start = storage.offset + offset * dtype.itemsize   # bytes
        if start % dtype.itemsize:
            raise RuntimeError(f"set_(): a {dtype} view must start at a multiple of {dtype.itemsize} bytes of its "
                               f"opencl buffer, got byte {start}; use a storage that starts there")
        return runtime.CLArray(storage.dev, storage.data, tuple(size), dtype.numpy, tuple(stride),
                               start // dtype.itemsize)

    def storage_size(self, native):
        return native.data.size // native.itemsize

    def array_device(self, native):
        return native.dev.index

    def synchronize(self, index=None):
        for i, s in list(runtime._STATES.items()):
            if index is None or i == index:
                s.queue.finish()

    # --- graphs --------------------------------------------------------------------------
    def fuse_pointwise(self, group, index=0):
        """One generated kernel for the chain of pointwise kernel calls ``group``, or None
        where a step has no fused form (see kernels/fused.py)."""
        if not self._scan():
            return None
        from plugtorch.backends.opencl.kernels.fused import fuse
        return fuse(runtime.state(index or 0), group, self.kernels)

    def fused_into(self, kernel):
        """``into(dsts, *inputs)``: the kernel ``fuse_pointwise`` returned, writing its output ``j``
        into the array ``dsts[j]`` where that is not None (kernels/fused.py ``FusedKernel.into``)."""
        return getattr(kernel, "slow", kernel).into   # (the C extension's Fused wraps the FusedKernel)

    def guarded_call(self, kernel, **spec):
        """A graph of one fused kernel behind its guards in C (``fastlaunch.replay``), or None
        (no C extension, or ``kernel`` not the extension's)."""
        return fastlaunch.replay(kernel, **spec)

    # --- random --------------------------------------------------------------------------
    def new_generator(self, index, seed):
        from plugtorch.backends.opencl.kernels.factory import PhiloxGenerator
        return PhiloxGenerator(index, seed)

    def generator_state(self, generator) -> bytes:
        # the kernels' Philox keys on the seed and counts up: two words are the whole state
        import struct
        return struct.pack("<QQ", generator.seed & ((1 << 64) - 1), generator.counter)

    def set_generator_state(self, generator, state: bytes) -> None:
        import struct
        if len(state) != 16:
            raise RuntimeError(f"Expected an opencl generator state of size 16 but found the input RNG state size "
                               f"to be {len(state)}")
        generator.seed, generator.counter = struct.unpack("<QQ", state)

    # --- memory --------------------------------------------------------------------------
    def memory_allocated(self, index=0):
        s = runtime._STATES.get(index or 0)
        if not s:
            return 0
        fastlaunch.release_idle()   # (the C launch paths' idle cached buffers are not in use)
        return s.pool.active_bytes

    def max_memory_allocated(self, index=0):
        s = runtime._STATES.get(index or 0)
        return s.peak if s else 0

    def reset_peak_memory_stats(self, index=0):
        s = runtime._STATES.get(index or 0)
        if s:
            fastlaunch.release_idle()
            s.peak = s.pool.active_bytes

    def memory_reserved(self, index=0):
        s = runtime._STATES.get(index or 0)
        return s.pool.managed_bytes if s else 0

    def empty_cache(self):
        with runtime.LOCK:
            fastlaunch.release_idle()
            for s in runtime._STATES.values():
                s.pool.free_held()


__all__ = ["OpenCLBackend"]
