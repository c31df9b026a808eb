"""cpu kernels of the complex views and conjugate (plugtorch/dispatch/ops/complex.py): NumPy views
that share the tensor's memory, whatever its strides."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def view_as_real(x, dtype):
    re = x.real                     # a float view with the complex array's strides
    return as_strided(re, x.shape + (2,), re.strides + (re.itemsize,))


def view_as_complex(x, dtype):
    # the meta checked: last dim of 2 with stride 1, even strides and offset
    if x.size == 0:
        return np.empty(x.shape[:-1], dtype.numpy)
    return x.view(dtype.numpy)[..., 0]


def conj_physical(x, dtype):
    return np.asarray(np.conjugate(x)) if x.dtype.kind == "c" else x.copy()


KERNELS = {"view_as_real": view_as_real, "view_as_complex": view_as_complex, "conj_physical": conj_physical}
