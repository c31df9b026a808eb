"""cpu kernels of plugtorch.fft: NumPy's pocketfft (float32/complex64 stay single precision)."""
from __future__ import annotations

import numpy as np


def irfftn(x, s, dims, norm, dtype):
    d = dtype.numpy
    x = x.astype(np.result_type(d, np.complex64) if x.dtype.kind == "c" else d, copy=False)
    return np.fft.irfftn(x, s=s, axes=dims, norm=norm).astype(d, copy=False)


def rfftn_real(x, dims, dtype):
    d = dtype.numpy
    return np.ascontiguousarray(np.fft.rfftn(x.astype(d, copy=False), axes=dims).real).astype(d, copy=False)


def _c2c(f):
    def k(x, s, dims, norm, dtype):
        c = dtype.numpy
        return f(x.astype(c, copy=False), s=s, axes=dims, norm=norm).astype(c, copy=False)
    return k


def rfftn(x, s, dims, norm, dtype):
    c = dtype.numpy
    return np.fft.rfftn(x.astype(dtype.to_real().numpy, copy=False), s=s, axes=dims, norm=norm).astype(c, copy=False)


KERNELS = {"fft_irfftn": irfftn, "_fft_rfftn_real": rfftn_real, "fft_fftn": _c2c(np.fft.fftn),
           "fft_ifftn": _c2c(np.fft.ifftn), "fft_rfftn": rfftn}
