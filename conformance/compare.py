"""How a backend's results are compared with cpu's: values within per-dtype tolerances, shape,
dtype and device, inputs left alone, and views that share their input's memory.

A difference raises ``Mismatch(check, message, max_error)``; the runner turns it into a
``Failure`` naming the sample.

Values match where they are within ``atol + rtol * |expected|``, and besides NaN must stand
where cpu has NaN (and nowhere else) and a zero must carry cpu's sign, whatever the tolerance.
A value mismatch names the first mismatching element, the tolerance and the greatest errors.

>>> import numpy as np
>>> compare_values("forward", "", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), 1e-6, 1e-6)
>>> try:
...     compare_values("forward", "", np.array([1.0, 0.0]), np.array([1.0, -0.0]), 1e-6, 1e-6)
... except Mismatch as m:
...     print(m.message)
Mismatched elements: 1 / 2 (50.0%)
first mismatch at index (1,): expected -0.0, got 0.0 (+0.0 where cpu has -0.0: zeros must carry cpu's sign)
greatest absolute difference: 0 at index (1,); greatest relative difference: 0 at index (1,)
tolerance: rtol=1e-06, atol=1e-06
>>> same_values(np.array([0.0]), np.array([-0.0]))    # signed zeros differ
False
"""
from __future__ import annotations

import math

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch.testing import _argmax_bad, _closeness


class Mismatch(Exception):
    """A difference from cpu: ``check`` names the kind (forward, shape, gradient, view ...)."""

    def __init__(self, check, message, max_error=None):
        super().__init__(message)
        self.check, self.message, self.max_error = check, message, max_error


def compare_outputs(entry, sample, out, ref, expected_dev, tol, check):
    """``out`` against cpu's ``ref``: structure, then each tensor's shape, dtype, device and values
    (``tol(dtype)`` gives rtol, atol), or the entry's own ``compare`` when it has one."""
    outs, refs = flatten(out), flatten(ref)
    if len(outs) != len(refs) or any(isinstance(a, pt.Tensor) != isinstance(b, pt.Tensor) for a, b in zip(outs, refs)):
        raise Mismatch(check, f"returned {describe_kind(out)}, cpu returns {describe_kind(ref)}")
    if entry.compare is not None:
        hosts = [host(a) if isinstance(a, pt.Tensor) else a for a in outs]
        ref_hosts = [host(b) if isinstance(b, pt.Tensor) else b for b in refs]
    for i, (a, b) in enumerate(zip(outs, refs)):
        which = "" if len(outs) == 1 else f"output {i}: "
        if not isinstance(a, pt.Tensor):
            if (a != b and not (a != a and b != b)) or (
                    a == 0 and isinstance(a, float) and isinstance(b, float) and math.copysign(1, a) != math.copysign(1, b)):
                raise Mismatch(check, f"{which}returned {a!r}, cpu returns {b!r}")
            continue
        if tuple(a.shape) != tuple(b.shape):
            raise Mismatch("shape", f"{which}result has shape {tuple(a.shape)}, cpu's has {tuple(b.shape)}")
        if a.dtype is not b.dtype:
            raise Mismatch("dtype", f"{which}result has dtype {a.dtype}, cpu's has {b.dtype}")
        if a.device != expected_dev:
            raise Mismatch("device", f"{which}result is on {a.device}, expected {expected_dev}")
        if entry.compare is None:
            n = sample.reduction_length or 0
            compare_values(check, which, host(a), host(b), *tol(b.dtype),
                           overflow_order=may_overflow(n, magnitude(sample), b.dtype),
                           signed_zeros=n <= 1 and getattr(entry, "zero_sign", True))
    if entry.compare is not None:
        msg = entry.compare(hosts, ref_hosts, sample)
        if msg:
            raise Mismatch(check, msg)


def compare_values(check, which, x, y, rtol, atol, overflow_order=False, signed_zeros=True):
    """Host arrays ``x`` (the backend's) and ``y`` (cpu's) within rtol/atol; NaN must match NaN
    and (``signed_zeros``) a zero the sign of cpu's zero. ``overflow_order``: a result of
    several terms that may overflow (``may_overflow``), where any non-finite value matches a
    non-finite reference. Complex results compare part by part (a trailing dim of (real, imag))."""
    if x.dtype.kind == "c" or y.dtype.kind == "c":
        x, y = (np.stack([np.real(v), np.imag(v)], -1) for v in (x, y))
    if overflow_order and x.dtype.kind not in "biu" and y.dtype.kind not in "biu":
        # a sum whose terms overflow has no defined result: inf + -inf is nan in one order and
        # +-inf in another, so any non-finite value matches a non-finite reference
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        both = ~np.isfinite(x64) & ~np.isfinite(y64)
        if both.any():
            x, y = np.where(both, 0.0, x64), np.where(both, 0.0, y64)
    ok, abs_err, rel_err = _closeness(x, y, rtol, atol, True)
    if signed_zeros and x.dtype.kind not in "biu" and y.dtype.kind not in "biu":
        xf, yf = x.astype(np.float64), y.astype(np.float64)
        ok = ok & ~((xf == 0) & (yf == 0) & (np.signbit(xf) != np.signbit(yf)))
    if ok.all():
        return
    bad = np.where(ok, 0.0, np.nan_to_num(abs_err, nan=np.inf))
    raise Mismatch(check, which + value_report(x, y, ok, abs_err, rel_err, rtol, atol),
                   float(bad.max()) if bad.size else None)


def may_overflow(n: int, magnitude: float, dtype) -> bool:
    """Whether a result combining ``n`` inputs of size at most ``magnitude`` (sums of products
    of two, or products of all) can overflow ``dtype`` in some order of the operations. Only
    then do its non-finite values depend on the order (inf + -inf is nan in one order and
    +-inf in another); otherwise inf and NaN come from inf and NaN inputs, in any order.

    >>> may_overflow(5, 9.0, pt.float32), may_overflow(5, 1e30, pt.float32)
    (False, True)
    """
    if n <= 1 or not getattr(dtype, "is_floating_point", False):
        return False
    m = max(magnitude, 1.0) if math.isfinite(magnitude) else math.inf
    log_max = math.log(float(_dtypes.finfo(dtype).max) / 2)
    return math.log(n) + 2 * math.log(m) >= log_max or n * math.log(m) >= log_max


def value_report(x, y, ok, abs_err, rel_err, rtol, atol) -> str:
    """The text of a value mismatch: how many, the first one (index, expected, actual, why), the
    greatest absolute and relative differences among the mismatches, and the tolerance."""
    n_bad, n = int((~ok).sum()), ok.size
    first = tuple(int(k) for k in np.argwhere(~ok)[0]) if ok.ndim else ()
    want, got = y[first], x[first]
    # (a NaN against a number differs by NaN: shown as inf, the difference no tolerance covers)
    abs_err, rel_err = (np.where(np.isnan(e), np.inf, e) for e in (abs_err, rel_err))
    ia, ir = _argmax_bad(abs_err, ok), _argmax_bad(rel_err, ok)
    return "\n".join([
        f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.1f}%)",
        f"first mismatch at index {first}: expected {_scalar(want)}, got {_scalar(got)}{_why(got, want)}",
        f"greatest absolute difference: {float(abs_err[ia]):.4g} at index {ia}; greatest relative difference: "
        f"{float(rel_err[ir]):.4g} at index {ir}",
        f"tolerance: rtol={rtol:g}, atol={atol:g}" + (" (exact)" if rtol == 0 and atol == 0 else "")])


def _scalar(v) -> str:
    v = np.asarray(v)
    if v.dtype.kind in "biu":
        return str(v.item())
    return repr(float(v)) if str(v.dtype) == "bfloat16" else str(v)


def _why(got, want) -> str:
    g, w = np.asarray(got), np.asarray(want)
    if g.dtype.kind in "biu" or w.dtype.kind in "biu":
        return ""
    g, w = float(g), float(w)
    if math.isnan(g) != math.isnan(w):
        return f" ({_scalar(got)} where cpu has {_scalar(want)}: NaN must stand where cpu's does, whatever " \
               "the tolerance)"
    if g == 0 and w == 0:
        return f" ({'-' if math.copysign(1, g) < 0 else '+'}0.0 where cpu has " \
               f"{'-' if math.copysign(1, w) < 0 else '+'}0.0: zeros must carry cpu's sign)"
    if math.isinf(g) or math.isinf(w):
        return " (infinities must match exactly)"
    return ""


def describe_inputs(sample, full: int = 16) -> str:
    """The sample's tensor inputs as the op sees them: in full up to ``full`` elements, else
    summarised (shape, dtype, layout, min/max, NaN/inf counts)."""
    lines = []
    for name, inp in _named_inputs(sample):
        v = np.asarray(inp.logical())
        head = f"  {name}: {inp.describe()}"
        if v.dtype.kind == "V" or str(v.dtype) == "bfloat16":
            v = v.astype(np.float32)      # (exact: bfloat16 is float32's upper half)
        if v.size <= full:
            body = np.array2string(v, separator=", ", threshold=full + 1, floatmode="unique",
                                   max_line_width=100).replace("\n", "\n    ")
            lines.append(f"{head} = {body}")
            continue
        stats = []
        if v.dtype.kind == "f":
            finite = v[np.isfinite(v)]
            if finite.size:
                stats.append(f"min {finite.min()!s} max {finite.max()!s}")
            nan, inf = int(np.isnan(v).sum()), int(np.isinf(v).sum())
            neg_zero = int(((v == 0) & np.signbit(v)).sum())
            stats += [f"{k} {what}" for k, what in ((nan, "nan"), (inf, "inf"), (neg_zero, "-0.0")) if k]
        elif v.size:
            stats.append(f"min {v.min()!s} max {v.max()!s}")
        lines.append(f"{head}: {', '.join(stats) or 'empty'}")
    return ("\ninputs:\n" + "\n".join(lines)) if lines else ""


def _named_inputs(sample):
    from .entry import Input

    def walk(name, v):
        if isinstance(v, Input):
            yield name, v
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                yield from walk(f"{name}[{i}]", x)
        elif isinstance(v, dict):
            for k, x in v.items():
                yield from walk(f"{name}[{k!r}]", x)
    for i, a in enumerate(sample.args):
        yield from walk(f"arg {i}", a)
    for k, a in sample.kwargs.items():
        yield from walk(k, a)


def check_inputs(entry, args, kwargs, before, ref_args, ref_kwargs, tol):
    """Inputs unchanged by the call (``before`` is their snapshot); an in-place op's first input
    changed as on cpu."""
    after = snapshot(args, kwargs)
    ref_after = snapshot(ref_args, ref_kwargs)
    for k, (x0, x1) in enumerate(zip(before, after)):
        if entry.inplace and k == 0:
            if entry.compare is None:
                rtol, atol = tol(_dtypes.from_numpy_dtype(ref_after[0].dtype))
                compare_values("in-place result", "input 0 after the call: ", x1, ref_after[0], rtol, atol)
            continue
        if x0.shape != x1.shape or not same_values(x0, x1):
            raise Mismatch("input modified", f"tensor argument {k} was changed by the call "
                            "(cpu leaves its inputs alone); kernels must write into new memory")


def check_view_aliases(sample, out, args, ref_out, ref_args):
    """A view kernel must return memory shared with its input: writing into the result
    changes the input, as on cpu (in-place ops on views depend on it)."""
    if not isinstance(out, pt.Tensor) or out.numel() == 0 or not isinstance(args[0], pt.Tensor):
        return
    if any(st == 0 and n > 1 for st, n in zip(ref_out.stride(), ref_out.shape)) or \
            any(i.layout == "expanded" for i in sample.inputs()):
        return   # several elements share one location (expand): writing into them is not allowed
    with pt.no_grad():
        pt.ops.copy_(ref_out, pt.ones(tuple(ref_out.shape), dtype=ref_out.dtype))
        try:
            pt.ops.copy_(out, pt.ones(tuple(out.shape), dtype=out.dtype, device=out.device))
        except Exception as e:
            raise Mismatch("view", f"writing into the result raised {type(e).__name__}: {e}\n(on cpu it "
                            "writes into the input: view kernels must return writable views)") from None
    got, want = host(args[0]), host(ref_args[0])
    if not same_values(got, want):
        raise Mismatch("view", "writing into the result did not write into the input as on cpu: a view "
                        "kernel must return an array sharing the input's memory (strides and an offset), "
                        "not a copy")


# ---- helpers ------------------------------------------------------------------------------
def flatten(out):
    if isinstance(out, (list, tuple)):
        return [x for o in out for x in flatten(o)]
    return [out]


def numel(shape) -> int:
    return math.prod(shape)


def grads_out_shape(outs):
    """The largest output shape (how many grad_output elements can flow into one input element)."""
    return max((tuple(o.shape) for o in outs), key=numel, default=())


def describe_kind(out):
    if isinstance(out, (list, tuple)):
        return f"{type(out).__name__} of {len(out)}"
    return type(out).__name__


def host(t) -> np.ndarray:
    return np.array(t.detach()._host(), copy=True)


def snapshot(args, kwargs):
    return [host(t) for t in flatten(list(args) + list(kwargs.values())) if isinstance(t, pt.Tensor)]


def same_values(x, y):
    if x.dtype.kind == "c":   # part by part, nan matching nan
        return same_values(x.real, y.real) and same_values(x.imag, y.imag)
    if x.dtype.kind == "f" or str(x.dtype) == "bfloat16":
        a, b = x.astype(np.float64), y.astype(np.float64)
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))) and
                    np.array_equal(np.signbit(a), np.signbit(b)))
    return bool(np.array_equal(x, y))


def magnitude(sample) -> float:
    """The largest finite absolute input value (tolerances of sums and gradients scale with it)."""
    m = 0.0
    for inp in sample.inputs():
        v = inp.values
        if v.size and (v.dtype.kind in "fc" or str(v.dtype) == "bfloat16"):   # (complex: the modulus)
            f = np.abs(v.astype(np.complex128 if v.dtype.kind == "c" else np.float64))
            f = f[np.isfinite(f)]
            if f.size:
                m = max(m, float(f.max()))
        elif v.size and v.dtype.kind in "iu":
            m = max(m, float(np.abs(v.astype(np.float64)).max()))
    return m
