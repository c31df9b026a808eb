"""Copies and casts: clone, copy_, _to_dtype, flip (a copy of a negative-stride view) and cat."""
from __future__ import annotations

from plugtorch.backends.opencl.buffer import CLArray
from plugtorch.backends.opencl.kernels import pointwise as P
from plugtorch.backends.opencl.kernels.elementwise import pointwise


def copy_into(dst: CLArray, src):
    """dst[...] = src (a CLArray broadcast to dst's shape, or a scalar), casting to dst's dtype."""
    d = dst.dtype
    in_dt = src.dtype if src.__class__ is CLArray else None
    pw = pointwise(dst.dev, "cast", "cast", (in_dt,), (d,), d)
    if src.__class__ is not CLArray:
        from plugtorch.backends.opencl import cltypes as T
        src = T.scalar(d, src)
    contiguous = dst.contiguous and (src.__class__ is not CLArray or
                                     (src.contiguous and src.shape == dst.shape))
    P.run(pw, dst, (src,), dst.shape, contiguous)


def cast(x: CLArray, dtype) -> CLArray:
    out = x.dev.empty(x.shape, dtype)
    copy_into(out, x)
    return out


def contiguous(x: CLArray) -> CLArray:
    return x if x.contiguous else cast(x, x.dtype)


def clone(x):
    return cast(x, x.dtype)


def to_dtype(x, dtype):
    return cast(x, dtype.numpy)


def copy_(dst, src):
    copy_into(dst, src)


def flip(x, dims):
    off = x.offset
    st = list(x.strides)
    for d in dims:
        if x.shape[d] > 0:
            off += (x.shape[d] - 1) * st[d]
        st[d] = -st[d]
    return clone(x.view_as(x.shape, st, off)) if x.size else clone(x)


def cat(arrays, dim, dtype):
    d = dtype.numpy
    ref = arrays[0]
    shape = list(ref.shape)
    shape[dim] = sum(a.shape[dim] for a in arrays)
    out = ref.dev.empty(tuple(shape), d)
    pos = 0
    for a in arrays:
        n = a.shape[dim]
        if n and a.size:
            part = out.view_as(a.shape, out.strides, out.offset + pos * out.strides[dim])
            copy_into(part, a)
        pos += n
    return out


KERNELS = {"clone": clone, "_to_dtype": to_dtype, "copy_": copy_, "flip": flip, "cat": cat}
