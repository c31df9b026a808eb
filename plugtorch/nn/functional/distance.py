"""cosine_similarity and pairwise_distance.

>>> import plugtorch as pt
>>> pt.nn.functional.cosine_similarity(pt.tensor([[1., 0.]]), pt.tensor([[1., 0.]])).tolist()
[1.0]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.nn.functional._utils import check_tensors


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """x1 . x2 / max(||x1|| ||x2||, eps) along ``dim``."""
    check_tensors("cosine_similarity", x1=x1, x2=x2)
    if x1.shape != x2.shape:   # ``dim`` counts the dims of the broadcast shape, as PyTorch's
        x1, x2 = pt.broadcast_tensors(x1, x2)
    n1 = (x1 * x1).sum(dim)
    n2 = (x2 * x2).sum(dim)
    denom = (n1 * n2).sqrt()
    return (x1 * x2).sum(dim) / pt.where(denom > eps, denom, eps)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """||x1 - x2 + eps||_p along the last dim."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)
