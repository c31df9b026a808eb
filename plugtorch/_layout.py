"""``plugtorch.layout`` and its one value ``plugtorch.strided``: every plugtorch tensor is a strided
(dense) one, so ``x.layout`` is ``strided`` and factories take ``layout=plugtorch.strided`` (or None).

>>> import plugtorch as pt
>>> pt.ones(2).layout
plugtorch.strided
"""
from __future__ import annotations


class layout:
    """A tensor memory layout (PyTorch's ``torch.layout``); plugtorch has ``strided`` only."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"plugtorch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


strided = layout("strided")


def _by_name(name):
    return {"strided": strided}[name]


def install(Tensor):
    Tensor.layout = property(lambda self: strided, doc="``plugtorch.strided``: plugtorch's tensors are all dense.")


__all__ = ["layout", "strided"]
