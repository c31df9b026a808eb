"""View kernels for backends whose native arrays are strided views of a buffer: a new shape,
strides (in elements) and offset over the same memory, never a copy.

They work on any native array with ``shape``, ``strides``, ``offset`` and
``view_as(shape, strides, offset)`` (the opencl backend's CLArray, the meta backend's MetaArray).

>>> from plugtorch.backends.meta.array import MetaArray
>>> permute(MetaArray((2, 3), "float32"), (1, 0)).strides
(1, 3)
"""
from __future__ import annotations

from plugtorch.backends.base import contiguous_strides
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


KERNELS = {"view": view, "permute": permute, "expand": expand, "slice": slice_, "select": select, "unfold": unfold,
           "as_strided": as_strided}
