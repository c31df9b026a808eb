"""linear and bilinear maps.

>>> import plugtorch as pt
>>> pt.nn.functional.linear(pt.ones(1, 2), pt.ones(3, 2), pt.zeros(3)).tolist()
[[2.0, 2.0, 2.0]]
"""
from __future__ import annotations

from plugtorch.nn.functional._utils import check_tensors


def linear(input, weight, bias=None):
    """input @ weight^T + bias."""
    check_linear(input, weight)
    out = input @ weight.mT if weight.ndim == 2 else input @ weight
    return out + bias if bias is not None else out


def check_linear(input, weight):
    """linear()'s shape checks (shared by the decomposition and the op's meta function)."""
    if input.ndim == 0:
        raise RuntimeError("linear(): input must be at least 1-D, got a 0-D tensor")
    if weight.ndim not in (1, 2) or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, (input.numel() // max(input.shape[-1], 1), input.shape[-1])))} and "
                           f"{'x'.join(map(str, reversed(tuple(weight.shape))))})")


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k, with weight of shape (out, in1, in2)."""
    check_tensors("bilinear", input1=input1, input2=input2, weight=weight)
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    o, i1, i2 = weight.shape
    if input1.shape[-1] != i1 or input2.shape[-1] != i2:
        raise RuntimeError(f"bilinear(): input sizes ({input1.shape[-1]}, {input2.shape[-1]}) do not match "
                           f"weight of size {list(weight.shape)}")
    t = (input1 @ weight.permute(1, 0, 2).reshape(i1, o * i2)).reshape(*input1.shape[:-1], o, i2)
    out = t * input2.unsqueeze(-2)
    out = out.sum(-1, dtype=out.dtype)   # a contraction, like the matmul: integer dtypes are kept (they wrap)
    return out + bias if bias is not None else out
