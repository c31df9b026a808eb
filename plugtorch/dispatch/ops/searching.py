"""``searchsorted``: where values go in sorted sequences, one binary search per value.

Backends run it as one kernel ``(sorted_sequence, values, sorter or None, right, common dtype,
out dtype) -> indices``: both inputs compare in ``common`` (``result_type`` of the two, as
PyTorch), ``sorter`` (int64, the sequence's shape) orders each line. The decomposition is
PyTorch's binary search in ops, so a sequence holding nan (or unsorted) gives PyTorch's indices:

    left:  start = mid + 1 while !(seq[mid] >= v)     right:  ... while !(seq[mid] > v)

A nan value compares false with everything, so it goes past the end of its line.
"""
from __future__ import annotations

import math

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.arguments import check_index_range
from plugtorch.dispatch.ops.composite import _pt, _t
from plugtorch.dispatch.registry import register_op


def _searchsorted_args(sorted_sequence, input, out_int32, right, side, sorter):
    op = "torch.searchsorted"
    _t("searchsorted", sorted_sequence, "sorted_sequence")
    _t("searchsorted", input)
    M.check_bool("searchsorted", "out_int32", out_int32)
    M.check_bool("searchsorted", "right", right)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"{op}(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(f"{op}(): side and right can't be set to opposites, got side of left while "
                               "right was True")
        right = side == "right"
    if sorted_sequence._device is not input._device:
        raise M.device_mismatch("searchsorted", sorted_sequence._device, input._device)
    seq_shape, in_shape = tuple(sorted_sequence.shape), tuple(input.shape)
    if not seq_shape:
        raise RuntimeError(f"{op}(): boundaries tensor should have positive dimension, but got 0 dimension")
    if len(seq_shape) > 1 and (len(in_shape) != len(seq_shape) or in_shape[:-1] != seq_shape[:-1]):
        raise RuntimeError(f"{op}(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                           f"boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(seq_shape)} and input value tensor {list(in_shape)}")
    if sorter is not None:
        _t("searchsorted", sorter, "sorter")
        if sorter._dtype is not _dtypes.int64:
            raise RuntimeError(f"{op}(): sorter must be a tensor of long dtype but got dtype "
                               f"{M.LEGACY_NAMES.get(sorter._dtype.name, sorter._dtype.name)}")
        if tuple(sorter.shape) != seq_shape:
            raise RuntimeError(f"{op}(): boundary and sorter must have the same size, but got boundary tensor "
                               f"{list(seq_shape)}and got sorter tensor {list(sorter.shape)}")
        if sorter._device is not input._device:
            raise M.device_mismatch("searchsorted", input._device, sorter._device)
        # (here, once for every backend: a device kernel would otherwise read outside the line)
        k = seq_shape[-1]
        check_index_range(sorter, 0, k, RuntimeError, f"{op}(): sorter index out of range",
                          lambda lo, hi: f"{op}(): sorter index out of range: got {lo if lo < 0 else hi} for a "
                                         f"sequence of {k} elements per line (expected 0 <= index < {k})")
    common = _dtypes.result_type(sorted_sequence, input)
    for dt in (sorted_sequence._dtype, input._dtype):
        if dt is _dtypes.bool or dt.is_complex:
            raise M.not_implemented_for("searchsorted", dt, "searchsorted compares real numbers: convert "
                                        "bool tensors with .long() first")
    return bool(right), common, _dtypes.int32 if out_int32 else _dtypes.int64


def _searchsorted_meta(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    right, common, out = _searchsorted_args(sorted_sequence, input, out_int32, right, side, sorter)
    kargs = (sorted_sequence._data, input._data, None if sorter is None else sorter._data, right, common, out)
    return input._device, kargs, out


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """For each value of ``input``, the index in the last dim of ``sorted_sequence`` where it would
    go to keep that line sorted: the first such place (``right=False``) or the last.

    >>> plugtorch.searchsorted(plugtorch.tensor([1, 3, 3, 5]), plugtorch.tensor([3, 6])).tolist()
    [1, 4]
    """
    right, common, out = _searchsorted_args(sorted_sequence, input, out_int32, right, side, sorter)
    pt = _pt()
    seq, vals = sorted_sequence.to(common), input.to(common)
    k = seq.shape[-1]
    if sorter is not None:
        seq = seq.gather(-1, sorter)
    rows = math.prod(seq.shape[:-1])
    lines = seq.reshape(rows, k)
    v = vals.reshape(rows, vals.shape[-1] if seq.ndim > 1 else vals.numel())
    lo = pt.zeros(tuple(v.shape), dtype=_dtypes.int64, device=v.device)
    hi = pt.full(tuple(v.shape), k, dtype=_dtypes.int64, device=v.device)
    for _ in range(k.bit_length()):          # each step at least halves every hi - lo
        mid = (lo + hi) // 2
        at = lines.gather(1, mid.clamp(max=k - 1))
        up = ~(at > v) if right else ~(at >= v)
        live = lo < hi
        lo = pt.where(live & up, mid + 1, lo)
        hi = pt.where(live & ~up, mid, hi)
    return lo.reshape(tuple(input.shape)).to(out)


register_op("searchsorted", _searchsorted_meta, decomposition=searchsorted, tags=("indexing",),
            differentiable=False)
