"""CUDABackend: CuPy arrays on NVIDIA GPUs as native arrays.

CuPy is imported the first time anything asks about cuda devices (``is_available()``,
``device="cuda"``), never by ``import plugtorch``. Without CuPy, or without a GPU and driver,
the backend reports why, and ``device="cuda"`` raises RuntimeError with that reason.

>>> import plugtorch as pt
>>> pt.cuda.is_available() or pt.cuda.unavailable_reason() is not None
True
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.backends.base import Backend, float8_unsupported

INSTALL_HINT = "pip install plugtorch[cuda12] or plugtorch[cuda13], to match your CUDA version"


def probe_cupy():
    """``(cupy module or None, device count, reason none can be used or None)``."""
    try:
        import cupy
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == "cupy":
            return None, 0, f"CuPy is not installed ({INSTALL_HINT})"
        return None, 0, f"CuPy failed to import: {type(e).__name__}: {e} ({INSTALL_HINT})"
    except Exception as e:  # noqa: BLE001  (a broken CuPy install must not break plugtorch)
        return None, 0, f"CuPy failed to import: {type(e).__name__}: {e} ({INSTALL_HINT})"
    try:
        n = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as e:  # noqa: BLE001  (CUDARuntimeError: no driver, no device, ...)
        return cupy, 0, f"no CUDA device or driver found: {type(e).__name__}: {e}"
    if n <= 0:
        return cupy, 0, "no CUDA device or driver found: the CUDA runtime reports 0 devices"
    return cupy, n, None


class CUDABackend(Backend):
    """NVIDIA GPUs through CuPy: native arrays are ``cupy.ndarray``, imported on first use."""

    name = "cuda"
    # float32 subnormals and the sign of zero are lost in CuPy's float32 kernels on the GPU
    # (docs/cuda-report-2026-11-26.md); the conformance suite then feeds both sides normal inputs
    flushes_subnormals = True

    def __init__(self):
        self.kernels = {}          # filled in place on first use of a device (needs CuPy)
        self._probe = None
        self._cp = None
        self._memory = None
        self._ready = False

    # --- devices -------------------------------------------------------------------------
    def _probed(self):
        if self._probe is None:
            self._probe = probe_cupy()
            self._cp = self._probe[0] if self._probe[1] > 0 else None
        return self._probe

    def cupy(self):
        """The cupy module, or RuntimeError saying why cuda can't be used."""
        if self._cp is None:
            reason = self._probed()[2]
            if reason is not None:
                raise RuntimeError(f"cuda is not available: {reason}")
        return self._cp

    def is_available(self) -> bool:
        return self._probed()[1] > 0

    def unavailable_reason(self) -> str | None:
        return self._probed()[2]

    def device_count(self) -> int:
        return self._probed()[1]

    def current_device(self) -> int:
        if not self.is_available():
            return 0   # "cuda" still names cuda:0, whose check_device then says why it fails
        return int(self._cp.cuda.runtime.getDevice())

    def device_name(self, index: int = 0) -> str:
        name = self.cupy().cuda.runtime.getDeviceProperties(index)["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def check_device(self, dev) -> None:
        super().check_device(dev)
        if not self._ready:
            self._get_ready()

    def _get_ready(self):
        from plugtorch.backends.cuda.kernels import make_cuda_kernels
        from plugtorch.backends.cuda.memory import MemoryStats
        cp = self.cupy()
        for name, k in make_cuda_kernels(cp, multi_device=self.device_count() > 1).items():
            self.kernels.setdefault(name, k)   # keep kernels users registered for cuda
        self._memory = MemoryStats(cp)
        self._ready = True

    def unsupported_dtype(self, dtype, index) -> str | None:
        if dtype in _dtypes.float8_dtypes:
            return float8_unsupported(self.name)
        if dtype is _dtypes.bfloat16:
            return ("CuPy has no bfloat16 arrays; use float16 or float32 on cuda, or keep "
                    "bfloat16 tensors on cpu")
        if dtype.is_complex:
            return ("the cuda backend's kernels are not checked on complex dtypes yet; compute "
                    "complex tensors on cpu")
        return None

    # --- data ----------------------------------------------------------------------------
    def _device(self, index):
        cp = self.cupy()
        return cp.cuda.Device(self.current_device() if index is None else index)

    def from_numpy(self, array, index: int):
        cp = self.cupy()
        with self._device(index):
            return cp.asarray(array)

    def to_numpy(self, native):
        return self._cp.asnumpy(native)

    def strides(self, native) -> tuple:
        isz = native.itemsize
        return tuple(s // isz for s in native.strides)

    def data_ptr(self, native) -> int:
        return native.data.ptr

    def storage_offset(self, native) -> int:
        data = native.data
        return (data.ptr - data.mem.ptr) // native.itemsize if data.mem is not None else 0

    def storage_size(self, native) -> int | None:
        mem = native.data.mem
        return None if mem is None else mem.size // native.itemsize

    def array_device(self, native) -> int | None:
        return native.device.id

    def synchronize(self, index: int | None = None) -> None:
        self._device(index).synchronize()

    # --- random --------------------------------------------------------------------------
    def new_generator(self, index: int, seed: int):
        """A CuPy Generator (cuRAND Philox4x32-10) on device ``index``; its state lives there."""
        cp = self.cupy()
        with self._device(index):
            return cp.random.Generator(cp.random.Philox4x3210(seed))

    def generator_state(self, generator) -> bytes:
        # CuPy keeps one cuRAND Philox state per thread in device memory (BitGenerator._state,
        # int8): its bytes are the whole state
        bits = generator.bit_generator
        with self._device(bits._current_device_id):
            return self.cupy().asnumpy(bits._state).tobytes()

    def set_generator_state(self, generator, state: bytes) -> None:
        import numpy as np
        bits = generator.bit_generator
        if len(state) != bits._state.nbytes:
            raise RuntimeError(f"Expected a cuda generator state of size {bits._state.nbytes} but found the input RNG "
                               f"state size to be {len(state)}")
        with self._device(bits._current_device_id):
            bits._state[...] = self.cupy().asarray(np.frombuffer(state, dtype=np.int8))

    # --- memory --------------------------------------------------------------------------
    def _stats(self):
        if not self._ready:
            self._get_ready()
        return self._memory

    def memory_allocated(self, index: int = 0) -> int:
        return self._stats().allocated(index) if self.is_available() else 0

    def max_memory_allocated(self, index: int = 0) -> int:
        return self._stats().max_allocated(index) if self.is_available() else 0

    def memory_reserved(self, index: int = 0) -> int:
        return self._stats().reserved(index) if self.is_available() else 0

    def reset_peak_memory_stats(self, index: int = 0) -> None:
        if self.is_available():
            self._stats().reset_peak(index)

    def empty_cache(self) -> None:
        if self.is_available():
            self._stats().empty_cache(self.device_count())

    # --- DLPack --------------------------------------------------------------------------
    def from_dlpack(self, ext):
        """A CuPy array sharing memory with any DLPack producer on a CUDA device."""
        return self.cupy().from_dlpack(ext)
