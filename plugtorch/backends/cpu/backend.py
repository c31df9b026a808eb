"""CPUBackend: NumPy arrays as native arrays; kernels from ``array_kernels.make_kernels(numpy)``
and the factorisations and FFTs of ``linalg_kernels`` and ``fft_kernels`` (NumPy's and SciPy's
LAPACK, pocketfft)."""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes
from plugtorch.backends.base import Backend, host_generator
from plugtorch.backends.cpu import (activation_kernels, complex_kernels, embedding_kernels, fft_kernels, linalg_kernels,
                                   norm_kernels, rnn_kernels, search_kernels, special_kernels)
from plugtorch.backends.cpu.array_kernels import make_kernels, memory_root


class CPUBackend(Backend):
    name = "cpu"
    autocast_list = "cpu"              # PyTorch's CPU autocast lists, in bfloat16
    autocast_dtype = _dtypes.bfloat16
    supports_complex = True            # NumPy's complex64/complex128
    supports_float8 = True             # ml_dtypes' float8 types

    def __init__(self):
        self._pairs = {}
        self.kernels = make_kernels(np, rng_factory=host_generator, pairs=self._pairs)
        self._own = dict(self.kernels)
        self.kernels.update(linalg_kernels.KERNELS)
        self.kernels.update(fft_kernels.KERNELS)
        self.kernels.update(complex_kernels.KERNELS)
        self.kernels.update(special_kernels.KERNELS)
        self.kernels.update(search_kernels.KERNELS)
        self.kernels.update(norm_kernels.KERNELS)
        self.kernels.update(rnn_kernels.KERNELS)
        self.kernels.update(activation_kernels.KERNELS)
        self.kernels.update(embedding_kernels.KERNELS)

    def device_name(self, index=0) -> str:
        import platform
        return platform.processor() or platform.machine() or "cpu"

    def check_device(self, dev) -> None:
        pass

    def from_numpy(self, array, index=None):
        return array

    def to_numpy(self, native):
        return native

    def strides(self, native):
        if not native.size and native.ndim:
            # NumPy zeroes an empty array's strides; PyTorch reports row-major ones (a size-0 dim
            # counted as 1), and code that rebuilds a view from them (as_strided) expects those
            out, n = [], 1
            for s in reversed(native.shape):
                out.append(n)
                n *= max(s, 1)
            return tuple(reversed(out))
        isz = native.itemsize
        return tuple(s // isz for s in native.strides)

    def data_ptr(self, native):
        return native.__array_interface__["data"][0]

    def storage_offset(self, native):
        base = memory_root(native)
        return (native.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // native.itemsize

    def storage_bytes(self, native):
        root = memory_root(native)
        if root.flags.c_contiguous or root.flags.f_contiguous:
            return (root.T if not root.flags.c_contiguous else root).reshape(-1).view(np.uint8)
        raise RuntimeError(f"untyped_storage(): the memory of this cpu tensor is a strided NumPy array "
                           f"(strides {root.strides}), not one dense block; call .contiguous() first")

    def view_storage(self, storage, dtype, size, stride, offset):
        from plugtorch.dispatch.ops.arrangements import storage_needed
        isz = dtype.itemsize
        flat = storage[offset * isz:max(offset, storage_needed(size, stride, offset)) * isz].view(dtype.numpy)
        return np.lib.stride_tricks.as_strided(flat, tuple(size), tuple(s * isz for s in stride),
                                               writeable=storage.flags.writeable)

    def new_generator(self, index, seed):
        return host_generator(seed)

    def fuse_pair(self, first, second, index=0):
        """The kernels that share their work (cross_entropy and its backward compute the softmax
        once), where both ops still run this backend's own kernels (a subclass may replace one)."""
        fn = getattr(self, "_pairs", {}).get((first, second))   # (a subclass may skip __init__)
        if fn is None or self.kernels.get(first) is not self._own[first] or \
                self.kernels.get(second) is not self._own[second]:
            return None
        return fn

    def fuse_pointwise(self, group, index=0):
        """None: NumPy runs each step as its own call (plugtorch.jit runs the group's kernels
        one by one, into preallocated outputs), there is no kernel to generate."""
        return None
