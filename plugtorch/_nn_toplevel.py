"""PyTorch's top-level forms of nn's functions, with ATen's argument orders (``torch.batch_norm(input,
weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)``, losses taking
``reduction`` as 0 none / 1 mean / 2 sum), the functional RNN cells, the ``feature`` dropouts,
``convolution``, ``grid_sampler``, and the samplers ``poisson`` and ``binomial``.

Each calls ``nn.functional`` (or the distributions' samplers), so the registry ops below do the work.

>>> import plugtorch as pt
>>> pt.embedding(pt.eye(3), pt.tensor([2, 0])).tolist()
[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
"""
from __future__ import annotations

from plugtorch import _ops_public as P
from plugtorch._tensor import Tensor

__all__ = []
_OP = {}   # public name -> the registry op it mainly runs (PUBLIC_TO_OP)


def _exported(op):
    def deco(fn):
        __all__.append(fn.__name__)
        _OP[fn.__name__] = op
        return fn
    return deco


def _F():
    from plugtorch.nn import functional
    return functional


# ATen's Reduction enum. The top-level Python bindings give back the unreduced loss unless asked
# (torch.kl_div(a, b) is elementwise), and any other number means none too.
def _reduction(reduction):
    return {1: "mean", 2: "sum"}.get(reduction, "none")


# ---- normalisation and embeddings ------------------------------------------------------------
@_exported("batch_norm")
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=True):
    """``nn.functional.batch_norm`` with ATen's argument order (weight and bias before the running stats)."""
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


@_exported("batch_norm")
def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps,
                  cudnn_enabled=True):
    """``nn.functional.instance_norm`` with ATen's argument order."""
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


@_exported("embedding")
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """Rows ``indices`` of ``weight`` (ATen's order: the weight first); ``padding_idx=-1`` means none,
    another index gets no gradient, as ``nn.functional.embedding``'s."""
    return _F().embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                          scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


@_exported("embedding")
def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """``(output, offset2bag, bag_size, max_indices)``, as PyTorch's cpu kernel gives them: ``output``
    is ``nn.functional.embedding_bag``'s with ``mode`` 0 sum, 1 mean, 2 max; with mode 0 the other
    three are its backward's leftovers (empty, zeros, zeros); with 1 and 2, ``offset2bag`` is the bag
    of each index and ``bag_size`` the indices per bag; ``max_indices`` is ``bag_size`` again (mode 1)
    or the row that gave each maximum, the bag's first on ties (mode 2)."""
    import plugtorch as pt
    modes = {0: "sum", 1: "mean", 2: "max"}
    if mode not in modes:
        raise RuntimeError(f"embedding_bag(): mode must be 0 (sum), 1 (mean) or 2 (max), got {mode}")
    out = _F().embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq, mode=modes[mode],
                             sparse=sparse, per_sample_weights=per_sample_weights,
                             include_last_offset=include_last_offset, padding_idx=padding_idx)
    n, bags, dev = indices.shape[0], out.shape[0], indices.device
    if mode == 0:
        zeros = pt.zeros(bags, dtype=pt.int64, device=dev)
        return out, pt.zeros(0, dtype=pt.int64, device=dev), zeros, zeros.clone()
    starts = offsets[:bags] if include_last_offset else offsets
    # the bag of index i: how many bag starts are at or before i, less one
    offset2bag = pt.searchsorted(starts, pt.arange(n, device=dev), right=True) - 1
    kept = (indices != padding_idx) if padding_idx is not None else pt.ones(n, dtype=pt.bool, device=dev)
    bag_size = pt.zeros(bags, dtype=pt.int64, device=dev).index_add(0, offset2bag, kept.long())
    if mode == 1:
        return out, offset2bag, bag_size, bag_size.clone()
    rows = weight.detach()[indices]                                       # (n, dim)
    hit = (rows == out.detach()[offset2bag]) & kept[:, None]
    big = n + 1
    position = pt.where(hit, pt.arange(n, device=dev)[:, None].expand_as(rows), pt.full_like(rows, big, dtype=pt.int64))
    first = pt.full(tuple(out.shape), big, dtype=pt.int64, device=dev).index_reduce(0, offset2bag, position, "amin")
    found = first < big
    max_indices = pt.where(found, indices[first.clamp(max=max(n - 1, 0))], pt.zeros_like(first))
    return out, offset2bag, bag_size, max_indices


@_exported("index_put")
def embedding_renorm_(input, indices, max_norm, norm_type):
    """Scale the rows ``indices`` of ``input`` whose ``norm_type``-norm exceeds ``max_norm`` down to
    ``max_norm`` (each row once), in place, without autograd, as ``nn.functional.embedding(max_norm=)``."""
    import plugtorch as pt
    with pt.no_grad():
        rows = pt.unique(indices.reshape(-1))
        w = input[rows]
        norms = pt.linalg.vector_norm(w, norm_type, dim=-1, keepdim=True)
        scale = pt.where(norms > max_norm, max_norm / (norms + 1e-7), pt.ones_like(norms))
        input[rows] = w * scale
    return input


# ---- dropout ---------------------------------------------------------------------------------
def _check_p(p):
    if p < 0 or p > 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


@_exported("bernoulli")
def dropout_(input, p, train):
    """``nn.functional.dropout(input, p, train, inplace=True)``."""
    return _F().dropout(input, p, train, inplace=True)


@_exported("bernoulli")
def alpha_dropout_(input, p, train):
    """``nn.functional.alpha_dropout(input, p, train, inplace=True)``."""
    _check_p(p)
    return _F().alpha_dropout(input, p, train, inplace=True)


@_exported("bernoulli")
def feature_alpha_dropout_(input, p, train):
    """``nn.functional.feature_alpha_dropout(input, p, train, inplace=True)``."""
    _check_p(p)
    return _F().feature_alpha_dropout(input, p, train, inplace=True)


def _feature_mask(input, p):
    import plugtorch as pt
    if input.ndim < 2:
        raise RuntimeError(f"feature_dropout(): expected an input with a batch and a channel dim (at least 2-D), "
                           f"got shape {tuple(input.shape)}")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    keep = pt.bernoulli(pt.full(shape, 1 - p, dtype=input.dtype, device=input.device))
    return keep / (1 - p) if p < 1 else keep


@_exported("bernoulli")
def feature_dropout(input, p, train):
    """Whole channels (dim 1) zeroed with probability ``p``, the rest scaled by 1 / (1 - p), when ``train``."""
    _check_p(p)
    if not train or p == 0:
        return input
    return input * _feature_mask(input, p)


@_exported("bernoulli")
def feature_dropout_(input, p, train):
    """``feature_dropout`` written into ``input``."""
    _check_p(p)
    if not train or p == 0:
        return input
    return input.mul_(_feature_mask(input, p))


# ---- losses (reduction: 0 none, 1 mean, 2 sum) -----------------------------------------------
@_exported("kl_div")
def kl_div(input, target, reduction=0, *, log_target=False):
    out = _F().kl_div(input, target, reduction="none", log_target=log_target)
    # (mean over every element, without the functional's warning about 'batchmean': ATen gives none)
    return out.mean() if reduction == 1 else out.sum() if reduction == 2 else out


@_exported("poisson_nll_loss")
def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


@_exported("clamp")
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F().margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


@_exported("clamp")
def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return _F().hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


@_exported("cosine_similarity")
def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F().cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


@_exported("vector_norm")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=0):
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=_reduction(reduction))


@_exported("logsumexp")
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0, zero_infinity=False):
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction=_reduction(reduction),
                         zero_infinity=zero_infinity)


@_exported("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return _F().binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                                 pos_weight=pos_weight)


# ---- convolution and sampling grids ----------------------------------------------------------
@_exported("conv2d")
def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """ATen's one convolution: ``conv{1,2,3}d`` or, with ``transposed``, ``conv_transpose{1,2,3}d``,
    by the number of spatial dims of ``weight``."""
    d = weight.ndim - 2
    if d not in (1, 2, 3):
        raise RuntimeError(f"convolution(): expected a 3-D, 4-D or 5-D weight (1 to 3 spatial dims), got shape "
                           f"{tuple(weight.shape)}")
    F = _F()
    stride, padding, dilation = tuple(stride), tuple(padding), tuple(dilation)
    if transposed:
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[d - 1]
        return fn(input, weight, bias, stride, padding, tuple(output_padding), groups, dilation)
    fn = (F.conv1d, F.conv2d, F.conv3d)[d - 1]
    return fn(input, weight, bias, stride, padding, dilation, groups)


_INTERPOLATION = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDING = {0: "zeros", 1: "border", 2: "reflection"}


@_exported("gather")
def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """``nn.functional.grid_sample`` with its modes as ATen's numbers: interpolation 0 bilinear,
    1 nearest, 2 bicubic; padding 0 zeros, 1 border, 2 reflection."""
    if interpolation_mode not in _INTERPOLATION:
        raise RuntimeError(f"grid_sampler(): expected interpolation_mode 0 (bilinear), 1 (nearest) or 2 (bicubic), "
                           f"got {interpolation_mode}")
    if padding_mode not in _PADDING:
        raise RuntimeError(f"grid_sampler(): expected padding_mode 0 (zeros), 1 (border) or 2 (reflection), got "
                           f"{padding_mode}")
    return _F().grid_sample(input, grid, _INTERPOLATION[interpolation_mode], _PADDING[padding_mode], align_corners)


@_exported("gather")
def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != 4:
        raise RuntimeError(f"grid_sampler_2d(): expected a 4-D input, got shape {tuple(input.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


@_exported("gather")
def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != 5:
        raise RuntimeError(f"grid_sampler_3d(): expected a 5-D input, got shape {tuple(input.shape)}")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


@_exported("matmul")
def affine_grid_generator(theta, size, align_corners):
    """``nn.functional.affine_grid(theta, size, align_corners)``."""
    return _F().affine_grid(theta, list(size), align_corners)


# ---- the functional RNN cells ----------------------------------------------------------------
def _gates(input, hx, w_ih, w_hh, b_ih, b_hh):
    F = _F()
    return F.linear(input, w_ih, b_ih), F.linear(hx, w_hh, b_hh)


@_exported("linear")
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``tanh(input w_ih^T + b_ih + hx w_hh^T + b_hh)``: one step of an Elman RNN."""
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    return (gi + gh).tanh()


@_exported("linear")
def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``relu(input w_ih^T + b_ih + hx w_hh^T + b_hh)``."""
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    return (gi + gh).relu()


@_exported("linear")
def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: ``hx`` is ``(h, c)``; the gates are stacked input, forget, cell, output, as
    ``nn.LSTMCell``'s weights; returns ``(h', c')``."""
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise RuntimeError("lstm_cell(): hx must be a pair (h, c) of tensors")
    h, c = hx
    gi, gh = _gates(input, h, w_ih, w_hh, b_ih, b_hh)
    i, f, g, o = (gi + gh).chunk(4, 1)
    c2 = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c2.tanh(), c2


@_exported("linear")
def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (gates stacked reset, update, new, as ``nn.GRUCell``'s weights)."""
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    i_r, i_z, i_n = gi.chunk(3, 1)
    h_r, h_z, h_n = gh.chunk(3, 1)
    r, z = (i_r + h_r).sigmoid(), (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return (1 - z) * n + z * hx


# ---- samplers --------------------------------------------------------------------------------
@_exported("uniform_")
def poisson(input, generator=None):
    """Poisson draws with rates ``input`` (same shape and float dtype).

    >>> plugtorch.poisson(plugtorch.zeros(2)).tolist()
    [0.0, 0.0]
    """
    from plugtorch.distributions import _samplers
    if not isinstance(input, Tensor):
        raise TypeError(f"poisson(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"poisson(): not implemented for dtype {input.dtype}; rates must be a "
                                  "floating-point tensor (x.float())")
    if input.numel() and bool(((input < 0) | input.isnan()).any()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return _samplers.poisson(input, generator=generator)


@_exported("uniform_")
def binomial(count, prob, generator=None):
    """Binomial(count, prob) draws (the broadcast shape, the float dtype of both)."""
    from plugtorch.distributions import _samplers
    if not count.dtype.is_floating_point:
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: {count.dtype}")
    if prob.dtype is not count.dtype:
        raise RuntimeError(f"binomial(): count and prob must have the same dtype, got {count.dtype} and {prob.dtype}")
    return _samplers.binomial(count, prob, generator=generator)


# ---- memory ----------------------------------------------------------------------------------
@_exported("_to_device")
def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over ``buffer``'s bytes (an object with the buffer protocol) from ``offset``,
    ``count`` elements (-1: all that fit). The cpu tensor shares the memory, as PyTorch's.

    >>> plugtorch.frombuffer(bytearray(b"\\x01\\x02"), dtype=plugtorch.uint8).tolist()
    [1, 2]
    """
    import numpy as np
    from plugtorch import _dtypes
    dt = _dtypes.to_dtype(dtype)
    nbytes = memoryview(buffer).nbytes
    if nbytes <= 0:
        raise ValueError(f"both buffer length ({nbytes}) and count ({count}) must not be 0")
    if not 0 <= offset < nbytes:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({nbytes} bytes) minus 1")
    if count == 0 or count < -1:
        raise ValueError(f"both buffer length ({nbytes}) and count ({count}) must not be 0" if count == 0 else
                         f"count must be -1 or positive, got {count}")
    if count == -1:
        if (nbytes - offset) % dt.itemsize:
            raise ValueError(f"buffer length ({nbytes - offset} bytes) after offset ({offset} bytes) must be a "
                             f"multiple of element size ({dt.itemsize})")
        count = (nbytes - offset) // dt.itemsize
    elif offset + count * dt.itemsize > nbytes:
        raise ValueError(f"requested buffer length ({count} * {dt.itemsize} bytes) after offset ({offset} bytes) "
                         f"must not be greater than actual buffer length ({nbytes} bytes)")
    arr = np.frombuffer(buffer, dtype=dt.numpy, count=count, offset=offset)
    t = P.from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


@_exported("empty")
def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """An uninitialised tensor of ``size`` whose memory holds its dims in the order ``physical_layout``
    (``empty_permuted((2, 3, 4), (0, 2, 1))`` is laid out as 2x4x3: a permuted view)."""
    size, order = tuple(size), tuple(physical_layout)
    if sorted(order) != list(range(len(size))):
        raise RuntimeError(f"empty_permuted(): physical_layout {list(order)} must be a permutation of the dims of "
                           f"size {list(size)}")
    inverse = [order.index(i) for i in range(len(size))]
    base = P.empty(tuple(size[i] for i in order), dtype=dtype, device=device)
    out = base.permute(inverse)
    if requires_grad:
        out = out.detach().requires_grad_(True)
    return out


@_exported("_to_device")
def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None, pin_memory=False):
    """``size`` elements of ``dtype`` read from the start of file ``filename`` (a copy: ``shared=True``,
    writing back to the file, is not supported)."""
    import numpy as np
    from plugtorch import _dtypes
    if shared:
        raise NotImplementedError("from_file(shared=True): plugtorch reads the file into a private tensor; "
                                  "changes would not reach the file. Pass shared=False")
    dt = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
    arr = np.fromfile(filename, dtype=dt.numpy, count=size)
    if arr.size < size:
        raise RuntimeError(f"from_file(): the file {filename!r} holds {arr.size} elements of {dt}, fewer than "
                           f"size={size}")
    return P.tensor(arr, dtype=dt, device=device)


# ---- control flow (eager) --------------------------------------------------------------------
@_exported("where")
def cond(pred, true_fn, false_fn, operands=()):
    """``true_fn(*operands)`` if ``pred`` (a bool or a one-element tensor) else ``false_fn(*operands)``."""
    if not isinstance(operands, (tuple, list)):
        raise RuntimeError(f"cond(): operands must be a tuple or list of tensors, got {type(operands).__name__}")
    if isinstance(pred, Tensor) and pred.numel() != 1:
        raise RuntimeError(f"cond(): expected pred to be a bool or a one-element tensor, got shape "
                           f"{tuple(pred.shape)}")
    return true_fn(*operands) if bool(pred) else false_fn(*operands)


@_exported("where")
def while_loop(cond_fn, body_fn, carried_inputs):
    """Run ``carried = body_fn(*carried)`` while ``cond_fn(*carried)``; the last ``carried`` (a tuple)."""
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"while_loop(): carried_inputs must be a tuple or list, got "
                           f"{type(carried_inputs).__name__}")
    carried = tuple(carried_inputs)
    while bool(cond_fn(*carried)):
        out = body_fn(*carried)
        carried = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    return carried


P.PUBLIC_TO_OP.update(_OP)
