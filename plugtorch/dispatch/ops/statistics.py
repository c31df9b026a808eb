"""Statistics: ``quantile``/``nanquantile``, ``histc``, ``cov``/``corrcoef`` and ``cdist``."""
from __future__ import annotations


from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.arguments import as_int
from plugtorch.dispatch.ops.composite import _pt, _t, composite

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    pt = _pt()
    _t(name, input)
    if input._dtype not in (_dtypes.float32, _dtypes.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype (got {input._dtype})")
    M.check_bool(name, "keepdim", keepdim)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if isinstance(q, M.Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor (got shape {tuple(q.shape)})")
        if q._dtype is not input._dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor ({q._dtype} vs "
                               f"{input._dtype})")
        from plugtorch.dispatch.dispatcher import data_check
        if q.numel():
            data_check(((q < 0) | (q > 1) | q.isnan()).any(), RuntimeError,
                       f"{name}() q values must be in the range [0, 1]")
        qs = q.to(input.device)
    else:
        if isinstance(q, bool) or not isinstance(q, (int, float)):
            raise TypeError(f"{name}(): argument 'q' must be a float or a Tensor, not {type(q).__name__}")
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        qs = pt.tensor(float(q), dtype=input.dtype, device=input.device)
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if dim is None:
        x = input.reshape(-1)
        d = 0
    else:
        d = M.wrap_dim(name, dim, input.ndim)
        x = input.reshape(1) if input.ndim == 0 else input
    v = pt.sort(x.movedim(d, -1), -1)[0]                     # nan sorts last
    n = v.shape[-1]
    qv = qs.reshape(-1)                                       # (Q,)
    nan = v.isnan()
    if ignore_nan:
        valid = (~nan).sum(-1, keepdim=True)                  # (..., 1)
        ranks = qv * (valid - 1).to(v.dtype)                  # (..., Q)
        ranks = pt.where(valid == 0, pt.zeros((), dtype=v.dtype, device=v.device), ranks)
        all_nan = valid == 0
    else:
        ranks = (qv * (n - 1)).expand(tuple(v.shape[:-1]) + (qv.shape[0],))
        has_nan = nan.any(-1, keepdim=True)
        ranks = pt.where(has_nan, pt.full((), n - 1, dtype=v.dtype, device=v.device), ranks)
        all_nan = has_nan
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()                                 # half to even, as PyTorch's
    below = ranks.floor().long().clamp(0, n - 1)
    above = ranks.ceil().long().clamp(0, n - 1)
    vb = v.gather(-1, below)
    va = v.gather(-1, above)
    if interpolation == "midpoint":
        w = pt.where(above > below, 0.5, 0.0).to(v.dtype)
    elif interpolation == "linear":
        w = ranks - below.to(v.dtype)
    else:
        w = None
    out = vb if w is None else pt.lerp(vb, va, w)
    if ignore_nan:
        out = pt.where(all_nan, pt.full((), float("nan"), dtype=v.dtype, device=v.device), out)
    out = out.movedim(-1, 0)                                  # (Q, ...)
    if keepdim:
        if dim is None:
            out = out.reshape((out.shape[0],) + (1,) * input.ndim)
        elif input.ndim:
            out = out.unsqueeze(d + 1)
    if not isinstance(q, M.Tensor) or q.ndim == 0:
        out = out.squeeze(0)
    return out


@composite("quantile", tags=("reduction",))
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles of ``input`` (flattened, or along ``dim``); a 1-D ``q`` adds a first dim.

    >>> plugtorch.quantile(plugtorch.tensor([0., 1., 2., 3.]), 0.5).item()
    1.5
    """
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


@composite("nanquantile", tags=("reduction",))
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` ignoring nan (nan only where a slice is all nan)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


@composite("histc", tags=("reduction",), differentiable=False)
def histc(input, bins=100, min=0, max=0):
    """Counts of ``input`` in ``bins`` equal bins over [min, max] (the data's range when both are 0);
    elements outside are left out.

    >>> plugtorch.histc(plugtorch.tensor([1., 2., 1.]), bins=4, min=0, max=3).tolist()
    [0.0, 2.0, 1.0, 0.0]
    """
    pt = _pt()
    _t("histc", input)
    if not input._dtype.is_floating_point:
        raise M.not_implemented_for("histc", input._dtype, "convert to a floating-point dtype first")
    bins = as_int("histc", "bins", bins)
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    ct = _dtypes.float64 if input._dtype is _dtypes.float64 else _dtypes.float32
    x = input.reshape(-1).to(ct)
    if lo == hi and input.numel():
        lo, hi, scale, centre = _data_range(x, bins)
    else:
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if lo > hi:
            raise RuntimeError("torch.histc: max must be larger than min")
        if not (abs(lo) < float("inf") and abs(hi) < float("inf")):
            raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
        scale, centre = bins / (hi - lo), None
    inside = (x >= lo) & (x <= hi)
    pos = (x - lo) * scale
    b = (pos if centre is None else pos + centre).floor().clamp(0, bins - 1)
    b = pt.where(inside, b, pt.zeros((), dtype=b.dtype, device=b.device)).long()
    counts = pt.zeros(bins, dtype=input.dtype, device=input.device)
    return counts.index_put([b], inside.to(input.dtype), accumulate=True)


def _data_range(x, bins):
    """histc's range when min == max == 0: ``x``'s own, widened by 1 each side when it is one value,
    as 0-d device tensors (no host read, so no sync and no graph break; the finiteness check is a
    ``data_check``). Computed in float64 where the device has it and then rounded to ``x``'s dtype,
    as the Python floats of an explicit range are, so both paths give the same bins. A value so
    large that +-1 leaves it unchanged goes to the middle bin, as PyTorch's."""
    from plugtorch.dispatch.dispatcher import _resolve_backend, data_check
    dev = x._device
    if dev._backend is None:
        _resolve_backend(dev)
    wide = _dtypes.float64 if dev._backend.unsupported_dtype(_dtypes.float64, dev.index) is None else x._dtype
    lo, hi = x.amin().to(wide), x.amax().to(wide)
    same = lo == hi
    lo, hi = _pt().where(same, lo - 1, lo), _pt().where(same, hi + 1, hi)
    data_check(~(lo.isfinite() & hi.isfinite()), RuntimeError, "torch.histc: range of [min, max] of the input is "
               "not finite (it holds inf or nan); pass a finite min and max",
               eager_message=lambda: f"torch.histc: range of [{float(lo)}, {float(hi)}] is not finite")
    width = hi - lo
    collapsed = width == 0
    scale = _pt().where(collapsed, 0.0, bins / width).to(x._dtype)
    return lo.to(x._dtype), hi.to(x._dtype), scale, _pt().where(collapsed, float(bins // 2), 0.0).to(x._dtype)


def _observations(op, input):
    _t(op, input)
    if input.ndim > 2:
        raise RuntimeError(f"{op}(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    return input.reshape(1, -1) if input.ndim < 2 else input


@composite("cov", tags=("reduction",))
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in columns).

    >>> plugtorch.cov(plugtorch.tensor([[0., 1., 2.], [2., 1., 0.]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    pt = _pt()
    x = _observations("cov", input)
    n = x.shape[1]
    dt = input.dtype if input._dtype.is_floating_point or input._dtype.is_complex else _dtypes.get_default_dtype()
    x = x.to(dt)
    rdt = dt.to_real() if dt.is_complex else dt   # weights and normaliser are real for complex data too
    w = None
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is None:
            continue
        _t("cov", wt, name)
        if wt.ndim > 1:
            raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                               f"{wt.ndim} dimensions")
        if wt.numel() != n:
            raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the "
                               f"input but got {wt.numel()} != {n}")
        if name == "fweights" and wt._dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                               f"{wt._dtype} dtype")
        if name == "aweights" and not wt._dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                               f"{wt._dtype} dtype")
        from plugtorch.dispatch.dispatcher import data_check
        if wt.numel():
            data_check((wt < 0).any(), RuntimeError, f"cov(): expected {name} to be non-negative")
        wt = wt.reshape(-1).to(rdt)
        w = wt if w is None else w * wt
    if w is None:
        avg = x.mean(1, keepdim=True)
        wsum = pt.tensor(float(n), dtype=rdt, device=x.device)
        norm = wsum - correction
    else:
        wsum = w.sum()
        from plugtorch.dispatch.dispatcher import data_check
        # (NumPy raises too: the weighted mean would be 0/0, every entry NaN)
        data_check(wsum == 0, RuntimeError, "cov(): weights sum to zero, can't be normalized; give some "
                   "observation a positive fweight/aweight")
        avg = (x * w).sum(1, keepdim=True) / wsum
        if aweights is None or correction == 0:
            norm = wsum - correction
        else:
            aw = aweights.reshape(-1).to(rdt)
            norm = wsum - correction * (w * aw).sum() / wsum
    norm = pt.where(norm <= 0, pt.zeros((), dtype=norm.dtype, device=norm.device), norm)
    xc = x - avg
    xw = xc if w is None else xc * w
    c = xw.matmul(xc.conj().mT if xc._dtype.is_complex else xc.mT) / norm
    return c.reshape(()) if x.shape[0] == 1 else c


@composite("corrcoef", tags=("reduction",))
def corrcoef(input):
    """Pearson correlation coefficients of the rows of ``input``, clipped to [-1, 1].

    >>> plugtorch.corrcoef(plugtorch.tensor([[0., 1., 2.], [2., 1., 0.]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    pt = _pt()
    _observations("corrcoef", input)
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal()
    s = d.sqrt()
    c = c / s.unsqueeze(1)
    c = c / s.unsqueeze(0)
    if c._dtype.is_complex:   # each part clipped, as PyTorch's
        return pt.complex(c.real.clamp(-1, 1), c.imag.clamp(-1, 1))
    return c.clamp(-1, 1)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


@composite("cdist", tags=("linalg",))
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The ``p``-norm distance between each row of ``x1`` and each row of ``x2`` (batched).

    >>> plugtorch.cdist(plugtorch.tensor([[0., 0.]]), plugtorch.tensor([[3., 4.], [1., 0.]])).tolist()
    [[5.0, 1.0]]
    """
    pt = _pt()
    _t("cdist", x1, "x1")
    _t("cdist", x2, "x2")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, x in (("X1", x1), ("X2", x2)):
        if not x._dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{M.LEGACY_NAMES.get(x._dtype.name, x._dtype.name)}")
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not p >= 0:
        raise RuntimeError(f"cdist only supports non-negative p values (got p={p})")
    batch = M.broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]), op="cdist")
    r1, r2, m = x1.shape[-2], x2.shape[-2], x1.shape[-1]
    a = x1.broadcast_to(batch + (r1, m))
    b = x2.broadcast_to(batch + (r2, m))
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                         compute_mode == "use_mm_for_euclid_dist_if_necessary" and (r1 > 25 or r2 > 25))
    if use_mm:
        # PyTorch's |a|^2 - 2 a.b + |b|^2 (centred on x1's mean row first is not done: as PyTorch)
        sq = (a * a).sum(-1, keepdim=True) - 2 * a.matmul(b.mT) + (b * b).sum(-1).unsqueeze(-2)
        # a distance of 0 (or below, by rounding) has gradient 0, as PyTorch's: sqrt's 1/(2*0) times
        # the 0 of d(sq) gave NaN, so the root is taken only where sq > 0 (both branches stay finite)
        pos = sq > 0
        return pt.where(pos, pt.where(pos, sq, 1.0).sqrt(), 0.0)
    diff = a.unsqueeze(-2) - b.unsqueeze(-3)                    # (..., r1, r2, m)
    return pt.linalg.vector_norm(diff, float(p), dim=-1)
