"""``plugtorch.linalg``: the linear-algebra namespace (PyTorch's ``torch.linalg``).

>>> import plugtorch as pt
>>> pt.linalg.vector_norm(pt.tensor([3., 4.])).item()
5.0
"""
from __future__ import annotations

from plugtorch._ops_public import ops

vector_norm = ops.vector_norm
matmul = ops.matmul


def vecdot(x, y, *, dim=-1):
    """Dot product of ``x`` and ``y`` along ``dim`` (broadcasting the other dims)."""
    return (x * y).sum(dim)


__all__ = ["vector_norm", "matmul", "vecdot"]
