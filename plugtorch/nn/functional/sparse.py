"""embedding and one_hot.

>>> import plugtorch as pt
>>> pt.nn.functional.one_hot(pt.tensor([0, 2]), 3).tolist()
[[1, 0, 0], [0, 0, 1]]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.dispatch.dispatcher import data_check
from plugtorch.dispatch.arguments import as_int
from plugtorch.nn.functional._utils import check_tensors


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by ``input``; the ``padding_idx`` row gets no gradient."""
    check_tensors("embedding", input=input, weight=weight)
    if input.dtype.is_floating_point or input.dtype is pt.bool:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype} instead (while checking arguments for embedding)")
    n = weight.shape[0]
    if padding_idx is not None:   # PyTorch asserts this in Python: AssertionError (raised, so -O keeps it)
        padding_idx = as_int("embedding", "padding_idx", padding_idx)
        if not -n <= padding_idx < n:
            raise AssertionError(f"Padding_idx must be within num_embeddings (got {padding_idx} for {n} rows)")
    if input.numel():
        data_check(((input < 0) | (input >= n)).any(), IndexError,
                   f"index out of range in self (embedding has {n} rows, indices must be in [0, {n}))")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    if max_norm is not None:
        with pt.no_grad():
            rows = input.reshape(-1)
            w = weight[rows]
            norms = w.norm(norm_type, -1, keepdim=True)
            scale = pt.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight[rows] = w * scale
    out = weight.index_select(0, input.reshape(-1)).reshape(*input.shape, weight.shape[1])
    if padding_idx is not None:
        out = pt.where((input == padding_idx).unsqueeze(-1), out.detach(), out)
    if scale_grad_by_freq:
        counts = pt.zeros(n, dtype=weight.dtype, device=weight.device).index_add(
            0, input.reshape(-1), pt.ones(input.numel(), dtype=weight.dtype, device=weight.device))
        f = counts[input].unsqueeze(-1)
        out = out / f + (out.detach() - out.detach() / f)   # values unchanged, gradient scaled by 1/freq
    return out


def one_hot(tensor, num_classes: int = -1):
    """(..., ) class indices -> (..., num_classes) int64 with a 1 at each index."""
    check_tensors("one_hot", tensor=tensor)
    if tensor.dtype is not pt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    num_classes = as_int("one_hot", "num_classes", num_classes)
    if tensor.numel():
        data_check((tensor < 0).any(), RuntimeError, "Class values must be non-negative.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.amax()) + 1
    elif tensor.numel():
        data_check((tensor >= num_classes).any(), RuntimeError, "Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == pt.arange(num_classes, device=tensor.device)).to(pt.int64)
