"""View ops: new shape, strides and offset over the same cl.Buffer, never a copy."""
from __future__ import annotations

from plugtorch.backends import strided_views
from plugtorch.backends.opencl.buffer import CLArray

# (view, permute, expand, slice, select, unfold, as_strided: the arithmetic every strided backend shares)
view, permute, expand, slice_, select, unfold, as_strided = (
    strided_views.view, strided_views.permute, strided_views.expand, strided_views.slice_, strided_views.select,
    strided_views.unfold, strided_views.as_strided)


def view_as_real(x, dtype):
    """A complex array's (real, imag) pairs as a last dim of 2 in its real dtype: float2 element
    k is float elements 2k and 2k + 1 of the same buffer."""
    return CLArray(x.dev, x.data, x.shape + (2,), dtype.numpy, tuple(2 * s for s in x.strides) + (1,),
                   2 * x.offset)


def view_as_complex(x, dtype):
    # the meta checked: a last dim of 2 with stride 1, even strides and an even offset
    return CLArray(x.dev, x.data, x.shape[:-1], dtype.numpy, tuple(s // 2 for s in x.strides[:-1]),
                   x.offset // 2)


KERNELS = {**strided_views.KERNELS, "view_as_real": view_as_real, "view_as_complex": view_as_complex}
