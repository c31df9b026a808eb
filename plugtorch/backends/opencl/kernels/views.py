"""View ops: new shape, strides and offset over the same cl.Buffer, never a copy."""
from __future__ import annotations

from plugtorch.backends.opencl.buffer import CLArray, contiguous_strides
from plugtorch.dispatch.ops.shape import view_strides


def view(x, shape):
    st = view_strides(x.shape, x.strides, tuple(shape))
    if st is True:
        st = x.strides if tuple(shape) == x.shape else contiguous_strides(shape)
    return x.view_as(shape, st, x.offset)


def permute(x, dims):
    return x.view_as(tuple(x.shape[d] for d in dims), tuple(x.strides[d] for d in dims), x.offset)


def expand(x, shape):
    off = len(shape) - len(x.shape)
    st = [0] * off
    for n, s, m in zip(x.shape, x.strides, shape[off:]):
        st.append(s if n == m else 0)
    return x.view_as(shape, st, x.offset)


def slice_(x, dim, start, end, step):
    n = max(0, (end - start + step - 1) // step)
    shape = list(x.shape)
    st = list(x.strides)
    shape[dim] = n
    st[dim] *= step
    return x.view_as(shape, st, x.offset + start * x.strides[dim])


def select(x, dim, index):
    return x.view_as(x.shape[:dim] + x.shape[dim + 1:], x.strides[:dim] + x.strides[dim + 1:],
                     x.offset + index * x.strides[dim])


def unfold(x, dim, size, step):
    if not x.shape:
        return x.view_as((1,), (1,), x.offset)
    n = (x.shape[dim] - size) // step + 1
    return x.view_as(tuple(x.shape[:dim]) + (n,) + tuple(x.shape[dim + 1:]) + (size,),
                     tuple(x.strides[:dim]) + (x.strides[dim] * step,) + tuple(x.strides[dim + 1:]) + (x.strides[dim],),
                     x.offset)


def as_strided(x, size, stride, offset):   # the meta checked the buffer's size
    return x.view_as(tuple(size), tuple(stride), offset)


def view_as_real(x, dtype):
    """A complex array's (real, imag) pairs as a last dim of 2 in its real dtype: float2 element
    k is float elements 2k and 2k + 1 of the same buffer."""
    return CLArray(x.dev, x.data, x.shape + (2,), dtype.numpy, tuple(2 * s for s in x.strides) + (1,),
                   2 * x.offset)


def view_as_complex(x, dtype):
    # the meta checked: a last dim of 2 with stride 1, even strides and an even offset
    return CLArray(x.dev, x.data, x.shape[:-1], dtype.numpy, tuple(s // 2 for s in x.strides[:-1]),
                   x.offset // 2)


KERNELS = {"view": view, "permute": permute, "expand": expand, "slice": slice_, "select": select, "unfold": unfold, "as_strided": as_strided,
           "view_as_real": view_as_real, "view_as_complex": view_as_complex}
