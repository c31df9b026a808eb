"""Test helpers with PyTorch's semantics: ``assert_close`` and ``make_tensor``.

Backend authors and the conformance suite use these to compare results.

>>> import plugtorch as pt
>>> pt.testing.assert_close(pt.tensor([1.0, 2.0]), pt.tensor([1.0, 2.0 + 1e-7]))
>>> pt.testing.make_tensor(2, 3, dtype=pt.float32, device="cpu").shape
plugtorch.Size([2, 3])
"""
from __future__ import annotations

import numbers

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes

__all__ = ["assert_close", "assert_allclose", "make_tensor", "default_tolerances"]

# PyTorch's assert_close defaults (rtol, atol); integers and bool compare exactly.
_DEFAULT_TOLERANCES = {
    _dtypes.float16: (1e-3, 1e-5),
    _dtypes.bfloat16: (1.6e-2, 1e-5),
    _dtypes.float32: (1.3e-6, 1e-5),
    _dtypes.float64: (1e-7, 1e-7),
    _dtypes.complex64: (1.3e-6, 1e-5),
    _dtypes.complex128: (1e-7, 1e-7),
}


def default_tolerances(*dtypes) -> tuple[float, float]:
    """The loosest ``(rtol, atol)`` of ``dtypes`` in PyTorch's table; ``(0, 0)`` for ints and bool.

    >>> default_tolerances(plugtorch.float16, plugtorch.float32)
    (0.001, 1e-05)
    """
    rtols, atols = zip(*(_DEFAULT_TOLERANCES.get(d, (0.0, 0.0)) for d in dtypes)) if dtypes else ((0.0,), (0.0,))
    return max(rtols), max(atols)


def _fail(generated, msg):
    """PyTorch's rule: a str ``msg`` replaces the generated message, a callable rewrites it."""
    if msg is None:
        raise AssertionError(generated)
    raise AssertionError(msg(generated) if callable(msg) else msg)


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_device=True,
                 check_dtype=True, check_layout=True, check_stride=False, msg=None) -> None:
    """Raise AssertionError unless ``actual`` and ``expected`` are close, as torch.testing does.

    Tensors must match in shape, and (unless turned off) dtype and device; values pass when
    ``|actual - expected| <= atol + rtol * |expected|``, with default tolerances per dtype.
    Sequences and mappings are compared element by element; numbers like 0-d tensors.
    ``msg`` replaces the message (a str) or rewrites it (a callable taking the generated one).
    ``check_layout`` is accepted for PyTorch compatibility (plugtorch tensors are all strided).

    >>> assert_close(plugtorch.tensor([1.0]), plugtorch.tensor([1.5]))  # doctest: +SKIP
    AssertionError: Tensor-likes are not close! ...
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, (), rtol, atol, equal_nan, check_device, check_dtype, check_stride, msg)


# assert_allclose's own table (its tolerances predate assert_close's); other dtypes compare exactly
_ALLCLOSE_TOLERANCES = {_dtypes.float16: (1e-3, 1e-3), _dtypes.float32: (1e-4, 1e-5), _dtypes.float64: (1e-5, 1e-8)}


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg="") -> None:
    """Deprecated (FutureWarning): ``assert_close`` with the defaults PyTorch's ``assert_allclose``
    had: NaNs equal, dtypes not checked, ``expected`` made a tensor of ``actual``'s dtype, and
    tolerances float16 (1e-3, 1e-3), float32 (1e-4, 1e-5), float64 (1e-5, 1e-8), other dtypes exact.

    >>> import warnings; warnings.simplefilter("ignore", FutureWarning)
    >>> assert_allclose(plugtorch.tensor([1.0, float("nan")]), [1.00005, float("nan")])
    """
    import warnings
    warnings.warn("`plugtorch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future "
                  "release. Please use `plugtorch.testing.assert_close()` instead. You can find detailed upgrade "
                  "instructions in https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, pt.Tensor):
        actual = pt.tensor(actual)
    if not isinstance(expected, pt.Tensor):
        expected = pt.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtols, atols = zip(*(_ALLCLOSE_TOLERANCES.get(t.dtype, (0.0, 0.0)) for t in (actual, expected)))
        rtol, atol = max(rtols), max(atols)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True, check_dtype=False,
                 check_stride=False, msg=msg or None)


def _compare(actual, expected, path, rtol, atol, equal_nan, check_device, check_dtype, check_stride, msg):
    where = "" if not path else " at " + "".join(f"[{p!r}]" for p in path)
    if isinstance(actual, pt.Tensor) or isinstance(expected, pt.Tensor):
        if not (isinstance(actual, pt.Tensor) and isinstance(expected, pt.Tensor)):
            _fail(f"Comparing a Tensor with a {type(expected if isinstance(actual, pt.Tensor) else actual).__name__}"
                  f"{where} is not supported; both inputs must be tensors (or both numbers).", msg)
        _compare_tensors(actual, expected, where, rtol, atol, equal_nan, check_device, check_dtype,
                         check_stride, msg)
        return
    if isinstance(actual, (bool, numbers.Number, np.generic)) and isinstance(expected, (bool, numbers.Number, np.generic)):
        if check_dtype and type(actual) is not type(expected) and not (
                isinstance(actual, np.generic) or isinstance(expected, np.generic)):
            _fail(f"The values for attribute 'type'{where} do not match: {type(actual).__name__} != "
                  f"{type(expected).__name__}.", msg)
        a, e = pt.tensor(actual), pt.tensor(expected)
        _compare_tensors(a, e, where, rtol, atol, equal_nan, False, False, False, msg, scalars=True)
        return
    if isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            _fail(f"The keys of the mappings{where} do not match: {sorted(map(str, actual))} != "
                  f"{sorted(map(str, expected))}.", msg)
        for k in expected:
            _compare(actual[k], expected[k], path + (k,), rtol, atol, equal_nan, check_device, check_dtype,
                     check_stride, msg)
        return
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            _fail(f"The length of the sequences{where} do not match: {len(actual)} != {len(expected)}.", msg)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + (i,), rtol, atol, equal_nan, check_device, check_dtype, check_stride, msg)
        return
    _fail(f"No comparison pair was able to handle inputs of type {type(actual).__name__} and "
          f"{type(expected).__name__}{where}.", msg)


def _compare_tensors(a, e, where, rtol, atol, equal_nan, check_device, check_dtype, check_stride, msg,
                     scalars=False):
    if tuple(a.shape) != tuple(e.shape):
        _fail(f"The values for attribute 'shape'{where} do not match: {a.shape} != {e.shape}.", msg)
    if check_device and a.device != e.device:
        _fail(f"The values for attribute 'device'{where} do not match: {a.device} != {e.device}.", msg)
    if check_dtype and a.dtype is not e.dtype:
        _fail(f"The values for attribute 'dtype'{where} do not match: {a.dtype} != {e.dtype}.", msg)
    if check_stride and a.stride() != e.stride():
        _fail(f"The values for attribute 'stride()'{where} do not match: {a.stride()} != {e.stride()}.", msg)
    if rtol is None:
        rtol, atol = default_tolerances(a.dtype, e.dtype)
    x = np.asarray(a.detach()._host())
    y = np.asarray(e.detach()._host())
    report = mismatch_report(x, y, rtol, atol, equal_nan)
    if report is not None:
        kind = "Scalars" if scalars else "Tensor-likes"
        _fail(f"{kind} are not {'equal' if rtol == 0 and atol == 0 else 'close'}{where}!\n\n{report}", msg)


def mismatch_report(x: np.ndarray, y: np.ndarray, rtol: float, atol: float, equal_nan: bool = True):
    """None if ``x`` is close to ``y`` (NumPy arrays of one shape), else PyTorch's summary text."""
    ok, abs_err, rel_err = _closeness(x, y, rtol, atol, equal_nan)
    if ok.all():
        return None
    n_bad, n = int((~ok).sum()), ok.size
    if x.dtype.kind in "biu" and y.dtype.kind in "biu":
        i = np.unravel_index(int(np.argmax(np.where(ok, -1, abs_err))), ok.shape) if ok.ndim else ()
        lines = [f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.1f}%)"]
        if n == 1:
            lines.append(f"Expected {y.reshape(-1)[0]} but got {x.reshape(-1)[0]}.")
        else:
            lines.append(f"Greatest absolute difference: {abs_err[i]} at index {tuple(int(k) for k in i)}")
        return "\n".join(lines)
    ia = _argmax_bad(abs_err, ok)
    ir = _argmax_bad(rel_err, ok)
    lines = [f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.1f}%)"]
    if n == 1:
        lines.append(f"Expected {y.reshape(-1)[0]} but got {x.reshape(-1)[0]}.")
    lines.append(f"Greatest absolute difference: {abs_err[ia]} at index {ia} (up to {atol} allowed)")
    lines.append(f"Greatest relative difference: {rel_err[ir]} at index {ir} (up to {rtol} allowed)")
    return "\n".join(lines)


def _argmax_bad(err, ok):
    e = np.where(ok, -np.inf, np.nan_to_num(err, nan=np.inf))
    return tuple(int(k) for k in np.unravel_index(int(np.argmax(e)), e.shape)) if e.ndim else ()


def _closeness(x, y, rtol, atol, equal_nan):
    """Element-wise ``ok`` mask, absolute and relative errors (float64; ints exactly; complex
    numbers part by part, as PyTorch's assert_close: a trailing dim of (real, imag))."""
    if x.dtype.kind == "c" or y.dtype.kind == "c":
        def parts(a):
            a = np.asarray(a)
            return np.stack([a.real, a.imag], -1) if a.dtype.kind == "c" else np.stack([a, np.zeros_like(a)], -1)
        return _closeness(parts(x), parts(y), rtol, atol, equal_nan)
    if x.dtype.kind in "biu" and y.dtype.kind in "biu":
        xi, yi = x.astype(np.int64), y.astype(np.int64)
        if x.dtype == np.uint64 or y.dtype == np.uint64:
            xi, yi = x.astype(object), y.astype(object)
        diff = np.abs(xi - yi).astype(np.float64)
        ok = diff <= atol + rtol * np.abs(yi).astype(np.float64)
        return np.asarray(ok), diff, diff / np.maximum(np.abs(yi).astype(np.float64), np.finfo(np.float64).tiny)
    xf = x.astype(np.float64)
    yf = y.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(xf - yf)
        # non-finite values must match exactly (inf is not "close" to -inf)
        ok = (xf == yf) | (np.isfinite(xf) & np.isfinite(yf) & (diff <= atol + rtol * np.abs(yf)))
        nan_x, nan_y = np.isnan(xf), np.isnan(yf)
        if equal_nan:
            ok = ok | (nan_x & nan_y)
        ok = ok & ~(nan_x ^ nan_y)
        diff = np.where(xf == yf, 0.0, diff)
        rel = diff / np.abs(yf)
        rel = np.where(diff == 0, 0.0, rel)
    return np.asarray(ok), diff, rel


# ---- make_tensor ---------------------------------------------------------------------------
_FLOAT_RANGE = (-9.0, 9.0)
_INT_RANGE = (-9, 10)


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, generator=None) -> "pt.Tensor":
    """A tensor of ``shape`` filled with random values in ``[low, high)``, as torch.testing's.

    Floats default to [-9, 9], signed ints to [-9, 10), uint8 to [0, 10), bool to {False, True}.
    ``noncontiguous=True`` returns a view with the same values whose last dim is strided.
    Values come from plugtorch's cpu random stream, so ``plugtorch.manual_seed`` repeats them.

    >>> make_tensor((2,), dtype=plugtorch.int64, device="cpu", low=0, high=1).tolist()
    [0, 0]
    """
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    dtype = _dtypes.to_dtype(dtype)
    if requires_grad and not dtype.is_floating_point:
        raise ValueError(f"make_tensor(): requires_grad=True is not supported for dtype {dtype}; "
                         "only floating-point tensors can require gradients")
    if low is not None and high is not None and low > high:
        raise ValueError(f"make_tensor(): low={low} must be less than or equal to high={high}")
    seed = int(pt.randint(0, 2 ** 62, (1,), generator=generator).item())
    rng = np.random.default_rng(seed)
    values = _random_values(rng, shape, dtype, low, high, exclude_zero)
    if noncontiguous and values.size > 1:
        wide = np.repeat(values, 2, axis=-1) if values.ndim else values
        base = pt.tensor(wide, dtype=dtype, device=device)
        t = base[..., ::2]
    else:
        t = pt.tensor(values, dtype=dtype, device=device)
    if requires_grad:
        t = t.detach().requires_grad_()
    return t


def _random_values(rng, shape, dtype, low, high, exclude_zero):
    if dtype is _dtypes.bool:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.is_floating_point:
        lo = _FLOAT_RANGE[0] if low is None else max(float(low), float(_dtypes.finfo(dtype).min))
        hi = _FLOAT_RANGE[1] if high is None else min(float(high), float(_dtypes.finfo(dtype).max))
        v = rng.uniform(lo, hi, size=shape)
        if exclude_zero:
            tiny = float(_dtypes.finfo(dtype).tiny)
            v = np.where(v.astype(dtype.numpy) == 0, tiny if hi > 0 else -tiny, v)
        return v.astype(dtype.numpy)
    info = _dtypes.iinfo(dtype)
    default_lo = 0 if dtype is _dtypes.uint8 else _INT_RANGE[0]
    lo = max(default_lo if low is None else int(np.ceil(low)), int(info.min))
    hi = min(_INT_RANGE[1] if high is None else int(np.ceil(high)), int(info.max) + 1)
    if hi <= lo:
        hi = lo + 1
    v = rng.integers(lo, hi, size=shape)
    if exclude_zero:
        v = np.where(v == 0, 1 if hi > 1 else -1, v)
    return v.astype(dtype.numpy)
