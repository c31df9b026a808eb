"""cpu kernels of plugtorch.fft's real transforms: NumPy's pocketfft (float32 stays float32)."""
from __future__ import annotations

import numpy as np


def irfftn(x, s, dims, norm, dtype):
    d = dtype.numpy
    return np.fft.irfftn(x.astype(d, copy=False), s=s, axes=dims, norm=norm).astype(d, copy=False)


def rfftn_real(x, dims, dtype):
    d = dtype.numpy
    return np.ascontiguousarray(np.fft.rfftn(x.astype(d, copy=False), axes=dims).real).astype(d, copy=False)


KERNELS = {"fft_irfftn": irfftn, "_fft_rfftn_real": rfftn_real}
