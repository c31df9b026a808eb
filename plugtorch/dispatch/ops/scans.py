"""Scans beyond cumsum/cumprod: ``cummax``, ``cummin`` and ``logcumsumexp``.

Each is a Hillis-Steele scan: log2(n) steps, each combining every element with the one
``2**k`` before it through an associative rule, so any backend runs it with elementwise ops
and autograd differentiates the steps (a value's gradient reaches exactly the element it
came from).
"""
from __future__ import annotations

from plugtorch.dispatch import meta as M
from plugtorch.dispatch.ops.composite import _pt, _t, composite
from plugtorch.dispatch.registry import OUT_MULTI


def scan(parts, dim, combine):
    """Inclusive scan of the tensors ``parts`` along ``dim`` with ``combine(earlier, later)``,
    an associative rule on tuples of tensors."""
    pt = _pt()
    n = parts[0].shape[dim]
    s = 1
    while s < n:
        earlier = tuple(p.narrow(dim, 0, n - s) for p in parts)
        later = tuple(p.narrow(dim, s, n - s) for p in parts)
        merged = combine(earlier, later)
        parts = tuple(pt.cat([p.narrow(dim, 0, s), m], dim) for p, m in zip(parts, merged))
        s *= 2
    return parts


def _cum_extreme(name, input, dim, later_wins):
    pt = _pt()
    _t(name, input)
    d = M.wrap_dim(name, dim, input.ndim)
    if input.ndim == 0:
        return input.clone(), pt.zeros((), dtype=pt.int64, device=input.device)
    input = input.contiguous()   # row-major results whatever the input's layout, as torch's
    idx = pt.arange(input.shape[d], device=input.device).reshape(
        (-1,) + (1,) * (input.ndim - 1 - d)).expand(tuple(input.shape))

    def combine(earlier, later):
        (v1, i1), (v2, i2) = earlier, later
        # as PyTorch's kernel: a nan wins and stays; among equal values the later index
        take = later_wins(v1, v2)
        if input._dtype.is_floating_point:
            take = v2.isnan() | (~v1.isnan() & take)
        return pt.where(take, v2, v1), pt.where(take, i2, i1)
    return scan((input, idx), d, combine)


@composite("cummax", tags=("reduction",), out_kind=OUT_MULTI)
def cummax(input, dim):
    """The running maximum along ``dim`` and the index where it was (the last, among equals).

    >>> plugtorch.cummax(plugtorch.tensor([1, 3, 2, 3]), 0).indices.tolist()
    [0, 1, 1, 3]
    """
    return _cum_extreme("cummax", input, dim, lambda v1, v2: v2 >= v1)


@composite("cummin", tags=("reduction",), out_kind=OUT_MULTI)
def cummin(input, dim):
    """The running minimum along ``dim`` and the index where it was (the last, among equals)."""
    return _cum_extreme("cummin", input, dim, lambda v1, v2: v2 <= v1)


@composite("logcumsumexp", tags=("reduction",))
def logcumsumexp(input, dim):
    """``log(cumsum(exp(input)))`` computed without overflow or underflow.

    >>> plugtorch.logcumsumexp(plugtorch.tensor([-1000.0, 0.0]), 0).tolist()
    [-1000.0, 0.0]
    """
    _t("logcumsumexp", input)
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise M.not_implemented_for("logcumsumexp", input._dtype, "convert to a floating-point dtype first")
    d = M.wrap_dim("logcumsumexp", dim, input.ndim)
    if input.ndim == 0:
        return input.clone()
    input = input.contiguous()   # a row-major result whatever the input's layout, as torch's
    return scan((input,), d, lambda e, l: (_pt().logaddexp(e[0], l[0]),))[0]
