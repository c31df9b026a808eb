"""CLArray: the opencl backend's native array, a strided view of a cl.Buffer.

Views (permute, expand, slice, select, view, flip's source) share ``data`` and differ only in
``offset``, ``shape`` and ``strides`` (all in elements), so they never copy.
"""
from __future__ import annotations

from plugtorch.backends.base import StridedArray, contiguous_strides, is_contiguous  # noqa: F401 (re-exported)


class CLArray(StridedArray):
    """``data`` (a cl.Buffer), ``offset``, ``shape``, ``strides``, ``dtype`` (a NumPy dtype).

    ``dev`` is the DeviceState the buffer lives on. ``mem`` (unset until the C launch paths of
    ``fastlaunch.py`` first need it) caches ``(data, data.int_ptr)``: they check that its first
    item is still ``data`` before they use the handle.
    """

    __slots__ = ("data", "dev", "contiguous", "mem")

    def __init__(self, dev, data, shape, dtype, strides=None, offset=0):
        self.dev = dev
        self.data = data
        StridedArray.__init__(self, shape, dtype, strides, offset)
        self.contiguous = strides is None or is_contiguous(shape, strides)

    def view_as(self, shape, strides, offset):
        """A view sharing this array's buffer."""
        return CLArray(self.dev, self.data, tuple(shape), self.dtype, tuple(strides), offset)

    def __repr__(self):
        return (f"CLArray(shape={self.shape}, strides={self.strides}, offset={self.offset}, "
                f"dtype={self.dtype}, device={self.dev.name!r})")
