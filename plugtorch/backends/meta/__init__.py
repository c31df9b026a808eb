"""The ``meta`` device: tensors with a shape, dtype and strides but no data (PyTorch's meta device).

>>> import plugtorch as pt
>>> (pt.empty(3, 4, device="meta") @ pt.empty(4, 5, device="meta")).shape
plugtorch.Size([3, 5])
"""
from plugtorch.backends.meta.backend import MetaBackend

__all__ = ["MetaBackend"]
