"""MetaArray: the meta backend's native array, a shape, strides, offset and dtype with no memory.

A meta tensor has everything a tensor has except its elements: ops on it compute the result's
shape, dtype and strides (validated by the ops' meta functions, as on every backend) and
allocate nothing, so a model of any size can be built, and shapes worked out, for free.
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.base import StridedArray, is_contiguous

_STANDIN_MAX = 1 << 16   # arrays up to this many elements get a real stand-in laid out as they are


class MetaArray(StridedArray):
    """``shape``, ``strides`` and ``offset`` (in elements) and ``dtype`` (a NumPy dtype)."""

    __slots__ = ()

    def __init__(self, shape, dtype, strides=None, offset=0):
        super().__init__(tuple(shape), np.dtype(dtype), None if strides is None else tuple(strides), offset)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def contiguous(self) -> bool:
        return is_contiguous(self.shape, self.strides)

    def view_as(self, shape, strides, offset):
        """A view of the same (absent) memory."""
        return MetaArray(shape, self.dtype, strides, offset)

    def standin(self, ones=None) -> np.ndarray:
        """A NumPy array of this shape and dtype on which a cpu kernel computes the result's shape
        and dtype: laid out in the same order of dims when small (so that a kernel's result
        follows the layout as on cpu), else one broadcast element (no memory). Its elements are
        ones with ``ones`` (a kernel may divide by them), else zeros (it may index with them);
        by default ones for floats, zeros for integers and bools."""
        if ones is None:   # ones where a kernel may divide by them; zeros where it may index with them
            ones = self.dtype.kind not in "iub"
        fill = np.ones if ones else np.zeros
        if self.size <= _STANDIN_MAX:
            # (dims of stride 0, as an expanded tensor has, are broadcast here too)
            base = tuple(1 if st == 0 else n for n, st in zip(self.shape, self.strides))
            order = dense_order(base, self.strides)
            a = fill(tuple(base[d] for d in order), dtype=self.dtype)
            if order != tuple(range(self.ndim)):
                a = a.transpose(np.argsort(order))
            return np.broadcast_to(a, self.shape) if base != self.shape else a
        return np.broadcast_to(fill((), dtype=self.dtype), self.shape)

    def __repr__(self):
        return f"MetaArray(shape={self.shape}, strides={self.strides}, offset={self.offset}, dtype={self.dtype})"


def dense_order(shape, strides) -> tuple:
    """The dims from outermost to innermost by stride (ties and size-1 dims keep their order),
    as PyTorch lays out a result like its input (``preserve_format``)."""
    n = len(shape)
    return tuple(sorted(range(n), key=lambda d: (-abs(strides[d]) if shape[d] != 1 else 0, d))) \
        if any(shape[d] != 1 for d in range(n)) else tuple(range(n))


def dense_like(shape, dtype, order) -> MetaArray:
    """A MetaArray of ``shape`` whose memory runs in ``order`` of dims (outermost first)."""
    st = [0] * len(shape)
    acc = 1
    for d in reversed(order):
        st[d] = acc
        acc *= max(shape[d], 1)
    return MetaArray(shape, dtype, st)


def from_result(r):
    """A cpu kernel's result (an array, a tuple of them, None) as MetaArrays of its layout."""
    if isinstance(r, np.ndarray):
        isz = r.itemsize
        st = tuple(s // isz for s in r.strides)
        if r.size == 0 or any(s <= 0 and n > 1 for s, n in zip(st, r.shape)) or r.size > _STANDIN_MAX:
            return MetaArray(r.shape, r.dtype)      # broadcast stand-ins, or empty: row-major
        return dense_like(r.shape, r.dtype, dense_order(r.shape, st))
    if isinstance(r, np.generic):
        return MetaArray((), r.dtype)
    if isinstance(r, (tuple, list)):
        return type(r)(from_result(x) for x in r)
    return r
