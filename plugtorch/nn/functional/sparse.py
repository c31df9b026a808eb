"""embedding, embedding_bag and one_hot.

>>> import plugtorch as pt
>>> pt.nn.functional.one_hot(pt.tensor([0, 2]), 3).tolist()
[[1, 0, 0], [0, 0, 1]]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.dispatch.dispatcher import data_check
from plugtorch.dispatch.arguments import as_int
from plugtorch.dispatch.meta import check_bool, not_implemented_for
from plugtorch.nn.functional._utils import check_optional_tensors, check_tensors


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by ``input``; the ``padding_idx`` row gets no gradient."""
    check_tensors("embedding", input=input, weight=weight)
    if input.dtype.is_floating_point or input.dtype is pt.bool:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype} instead (while checking arguments for embedding)")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding(): 'weight' must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{list(weight.shape)}")
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
    out = _rows(input, weight, max_norm, norm_type, scale_grad_by_freq)
    if padding_idx is not None:
        out = pt.where((input == padding_idx).unsqueeze(-1), out.detach(), out)
    return out


def _rows(input, weight, max_norm, norm_type, scale_grad_by_freq):
    """embedding's rows for indices its caller has checked are in [0, num_embeddings): renormed
    (``max_norm``) and with their gradient scaled by frequency; no ``padding_idx``. One index op
    picks them (its meta's own bounds check is the only other read of the indices)."""
    n = weight.shape[0]
    if max_norm is not None:
        with pt.no_grad():
            rows = input.reshape(-1)
            w = weight[rows]
            norms = w.norm(norm_type, -1, keepdim=True)
            scale = pt.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight[rows] = w * scale
    out = pt.ops.index(weight, [input])   # (*input.shape, dim); index_select would check the range again
    if scale_grad_by_freq:
        counts = pt.zeros(n, dtype=weight.dtype, device=weight.device).index_add(
            0, input.reshape(-1), pt.ones(input.numel(), dtype=weight.dtype, device=weight.device))
        f = counts[input].unsqueeze(-1)
        out = out / f + (out.detach() - out.detach() / f)   # values unchanged, gradient scaled by 1/freq
    return out


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """The sum, mean or max of each bag of ``weight`` rows: bags are the rows of a 2-D ``input``, or
    the slices ``input[offsets[b]:offsets[b + 1]]`` of a 1-D one. ``padding_idx`` entries are left
    out (not counted by 'mean'); an empty bag gives zeros; ``per_sample_weights`` ('sum' only)
    scales each entry.

    A 1-D input's bags are the op ``_embedding_bag`` (cpu: one kernel; elsewhere ``_bags_1d``,
    reduced on the device), so plugtorch.jit traces it without a graph break; every backend and
    autograd get it from the ops.

    >>> import plugtorch as pt
    >>> w = pt.arange(8.).reshape(4, 2)
    >>> pt.nn.functional.embedding_bag(pt.tensor([1, 2, 3]), w, pt.tensor([0, 2]), mode="sum").tolist()
    [[6.0, 8.0], [6.0, 7.0]]
    """
    check_tensors("embedding_bag", input=input, weight=weight)
    check_optional_tensors("embedding_bag", offsets=offsets, per_sample_weights=per_sample_weights)
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({pt.Size(per_sample_weights.shape)}) is not None, "
                         f"then it must have the same shape as the input ({pt.Size(input.shape)})")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    for name, t in (("input", input), ("offsets", offsets)):
        if t is not None and (t.dtype.is_floating_point or t.dtype.is_complex or t.dtype is pt.bool):
            raise RuntimeError(f"Expected tensor for argument #1 '{'indices' if name == 'input' else name}' to have "
                               f"one of the following scalar types: Long, Int; but got {t.dtype} instead (while "
                               "checking arguments for embedding_bag)")
    k = weight.shape[0]
    if (input.ndim == 1 and max_norm is None and not scale_grad_by_freq and weight.dtype.is_floating_point
            and (per_sample_weights is None or per_sample_weights.dtype is weight.dtype)):
        # one op (a backend's kernel: cpu's is one reduceat), its decomposition the path below
        return pt.ops._embedding_bag(input, weight, offsets, mode, per_sample_weights, bool(include_last_offset),
                                     _padding_row("embedding_bag", padding_idx, k))
    _check_rows("embedding_bag", input, k)
    # the rows, renormed and with their frequency scaling as embedding's (padding_idx: handled below)
    rows = _rows(input, weight, max_norm, norm_type, scale_grad_by_freq)   # (the range is checked above)
    if input.ndim == 1:
        return _bags_1d(input, rows, offsets, mode, per_sample_weights, include_last_offset,
                        _padding_row("embedding_bag", padding_idx, k))
    idx, psw, emb = input, per_sample_weights, rows
    valid = None
    if padding_idx is not None:
        valid = idx != _padding_row("embedding_bag", padding_idx, k)
    mask = valid.unsqueeze(-1) if valid is not None else None
    if mode == "max":
        if mask is None:
            return emb.max(1).values if emb.shape[1] else emb.sum(1)
        out = pt.where(mask, emb, float("-inf")).max(1).values if emb.shape[1] else emb.sum(1)
        return pt.where(valid.any(1, keepdim=True), out, 0.0)
    if psw is not None:
        emb = emb * psw.unsqueeze(-1)
    total = (emb if mask is None else pt.where(mask, emb, 0.0)).sum(1)
    if mode == "sum":
        return total
    if mask is None:
        return total / emb.shape[1] if emb.shape[1] else total
    return total / valid.sum(1, keepdim=True).clamp_min(1).to(total.dtype)


def _check_rows(op, input, k):
    if input.numel():
        data_check(((input < 0) | (input >= k)).any(), RuntimeError,
                   f"{op}: index out of range (weight has {k} rows, indices must be in [0, {k}))")


def check_embedding_bag_1d(input, weight, offsets, mode="mean", per_sample_weights=None, include_last_offset=False,
                           padding_idx=None):
    """``_embedding_bag``'s argument checks, run by its meta before any kernel (``embedding_bag``
    checks its own arguments first, with PyTorch's messages, and calls the op only for these)."""
    check_tensors("_embedding_bag", input=input, weight=weight, offsets=offsets)
    check_optional_tensors("_embedding_bag", per_sample_weights=per_sample_weights)
    if input.ndim != 1 or offsets.ndim != 1 or weight.ndim != 2 or mode not in ("sum", "mean", "max"):
        raise RuntimeError(f"_embedding_bag(): expected a 1-D input, 1-D offsets, a 2-D weight and mode sum, mean "
                           f"or max, got input {list(input.shape)}, offsets {list(offsets.shape)}, weight "
                           f"{list(weight.shape)}, mode {mode!r}")
    for name, t in (("input", input), ("offsets", offsets)):
        if t.dtype not in (pt.int64, pt.int32):
            raise RuntimeError(f"_embedding_bag(): expected int64 or int32 {name}, got {t.dtype}")
    if not weight.dtype.is_floating_point:
        raise not_implemented_for("_embedding_bag", weight.dtype, "embedding_bag takes a floating point weight")
    if per_sample_weights is not None and (mode != "sum" or per_sample_weights.dtype is not weight.dtype
                                           or tuple(per_sample_weights.shape) != tuple(input.shape)):
        raise RuntimeError(f"_embedding_bag(): per_sample_weights go with mode 'sum', the input's shape and the "
                           f"weight's dtype; got mode {mode!r}, {per_sample_weights.dtype} "
                           f"{list(per_sample_weights.shape)} for input {list(input.shape)} and weight {weight.dtype}")
    if padding_idx is not None and not (padding_idx.__class__ is int and 0 <= padding_idx < weight.shape[0]):
        raise RuntimeError(f"_embedding_bag(): padding_idx must be None or an int in [0, {weight.shape[0]}), got "
                           f"{padding_idx!r}")
    check_bool("_embedding_bag", "include_last_offset", include_last_offset)


def embedding_bag_1d(input, weight, offsets, mode="mean", per_sample_weights=None, include_last_offset=False,
                     padding_idx=None):
    """The nn op ``_embedding_bag`` (plugtorch/nn/ops.py): ``embedding_bag`` of a 1-D ``input``
    with ``offsets``, its arguments checked by the caller but for the data (the indices' range,
    the offsets'), ``padding_idx`` non-negative or None; no max_norm, no frequency scaling. A
    backend may give it a kernel (cpu: one reduceat); this decomposition serves the others."""
    _check_rows("embedding_bag", input, weight.shape[0])
    rows = _rows(input, weight, None, 2, False)
    return _bags_1d(input, rows, offsets, mode, per_sample_weights, include_last_offset, padding_idx)


def _padding_row(op, padding_idx, k):
    """``padding_idx`` checked and made non-negative (None stays None)."""
    if padding_idx is None:
        return None
    padding_idx = as_int(op, "padding_idx", padding_idx)
    if not -k <= padding_idx < k:
        raise AssertionError(f"padding_idx must be within num_embeddings (got {padding_idx} for {k} rows)")
    return padding_idx + k if padding_idx < 0 else padding_idx


def _bags_1d(input, rows, offsets, mode, per_sample_weights, include_last_offset, padding_row):
    """The bags ``input[offsets[b]:offsets[b + 1]]`` of the (n, dim) ``rows`` reduced on the device:
    each position's bag id is a cumsum of ones scattered at the bag starts; sums and counts are
    accumulating ``index_put``s into (bags, dim); max is ``_bag_max``. No host read, so
    plugtorch.jit traces it without a graph break."""
    n = input.shape[0]
    nb = offsets.shape[0] - 1 if include_last_offset else offsets.shape[0]
    if nb < 0:
        raise RuntimeError("embedding_bag: include_last_offset=True needs at least one offset (the end)")
    if offsets.numel():
        data_check(offsets[0] != 0, RuntimeError, "offsets[0] has to be 0, i.e., the first sequence in the "
                   "mini-batch has to start from position 0.", lambda: f" However, got {int(offsets[0])}")
        data_check(offsets[-1] > n, RuntimeError, f"offsets[-1] can not be greater than input's length {n}",
                   lambda: f" but got offsets[-1] of {int(offsets[-1])}")
        data_check((offsets[1:] < offsets[:-1]).any(), RuntimeError,
                   "embedding_bag: offsets must be non-decreasing (bag b is input[offsets[b]:offsets[b + 1]])")
    dev = input.device
    # as PyTorch's, the last bag runs to the end of the input even when include_last_offset's final
    # offset is smaller: that offset is checked, then the bags are those of offsets[:-1]
    off = offsets.to(pt.int64)[:nb]
    bags = max(nb, 1)              # with no bags, every position goes to a bag 0 sliced off at the end
    starts = off
    ends = pt.cat([off[1:], pt.full((1,), n, dtype=pt.int64, device=dev)])[:nb]
    marks = pt.zeros(n + 1, dtype=pt.int64, device=dev)
    if nb > 1:
        marks = marks.index_put([starts[1:]], pt.ones(nb - 1, dtype=pt.int64, device=dev), accumulate=True)
    seg = marks.cumsum(0)[:n]                                            # the bag of each position
    valid = None
    if padding_row is not None:
        valid = input != padding_row
    emb = rows
    if mode == "max":
        return _bag_max(emb, seg, valid, starts, ends, nb)
    if per_sample_weights is not None:
        emb = emb * per_sample_weights.unsqueeze(-1)
    if valid is not None:
        emb = pt.where(valid.unsqueeze(-1), emb, 0.0)
    total = pt.zeros((bags,) + tuple(emb.shape[1:]), dtype=emb.dtype, device=dev).index_put(
        [seg], emb, accumulate=True)[:nb]
    if mode == "sum":
        return total
    count = (ends - starts) if valid is None else pt.zeros(bags, dtype=pt.int64, device=dev).index_put(
        [seg], valid.to(pt.int64), accumulate=True)[:nb]
    return total / count.unsqueeze(-1).clamp_min(1).to(total.dtype)


_BLOCK_LIMIT = 1 << 16     # elements of the (bags, n, dim) block up to which max takes it (fewer kernels)


def _bag_max(emb, seg, valid, starts, ends, nb):
    """Each bag's maximum of the (n, dim) ``emb`` (``seg``: the bag of each position, ``valid``: the
    positions that count, or None for all), 0 for a bag with none; nan wins, and the gradient goes
    to the bag's first maximum, as ``max(dim)``'s."""
    n, dev = emb.shape[0], emb.device
    if n and nb * n * emb[0].numel() <= _BLOCK_LIMIT:
        # small: each bag's rows gathered into a (bags, n, dim) block, its own first (so an all -inf
        # bag gives its gradient to its first row), -inf after; one max
        steps = pt.arange(n, device=dev)
        member = steps < (ends - starts).unsqueeze(1)
        pos = pt.where(member, starts.unsqueeze(1) + steps, 0)
        if valid is not None:
            member = member & valid[pos]
        out = pt.where(member.unsqueeze(-1), emb[pos], float("-inf")).max(1).values
        return pt.where(member.any(1, keepdim=True), out, 0.0)
    # large: a segmented scan, log2(n) shifted steps; each keeps the earlier element on ties and nan
    x = emb if valid is None else pt.where(valid.unsqueeze(-1), emb, float("-inf"))
    step = 1
    while step < n:
        left, right = x[:-step], x[step:]
        take = (seg[step:] == seg[:-step]).unsqueeze(-1) & ((left >= right) | left.isnan())
        x = pt.cat([x[:step], pt.where(take, left, right)])
        step *= 2
    lengths = ends - starts
    count = lengths if valid is None else pt.zeros(max(nb, 1), dtype=pt.int64, device=dev).index_put(
        [seg], valid.to(pt.int64), accumulate=True)[:nb]
    x = pt.cat([x, pt.zeros((1,) + tuple(x.shape[1:]), dtype=x.dtype, device=dev)])
    out = x[pt.where(lengths > 0, ends - 1, n)]                   # a bag's last position; an empty bag, the zero row
    return pt.where((count > 0).unsqueeze(-1), out, 0.0)


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
