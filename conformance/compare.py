"""How a backend's results are compared with cpu's: values within per-dtype tolerances, shape,
dtype and device, inputs left alone, and views that share their input's memory.

A difference raises ``Mismatch(check, message, max_error)``; the runner turns it into a
``Failure`` naming the sample.

>>> import numpy as np
>>> compare_values("forward", "", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), 1e-6, 1e-6)
>>> same_values(np.array([0.0]), np.array([-0.0]))    # signed zeros differ
False
"""
from __future__ import annotations

import math

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch.testing import _closeness, mismatch_report


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
            if a != b and not (a != a and b != b):
                raise Mismatch(check, f"{which}returned {a!r}, cpu returns {b!r}")
            continue
        if tuple(a.shape) != tuple(b.shape):
            raise Mismatch("shape", f"{which}result has shape {tuple(a.shape)}, cpu's has {tuple(b.shape)}")
        if a.dtype is not b.dtype:
            raise Mismatch("dtype", f"{which}result has dtype {a.dtype}, cpu's has {b.dtype}")
        if a.device != expected_dev:
            raise Mismatch("device", f"{which}result is on {a.device}, expected {expected_dev}")
        if entry.compare is None:
            compare_values(check, which, host(a), host(b), *tol(b.dtype),
                            overflow_order=(sample.reduction_length or 0) > 1)
    if entry.compare is not None:
        msg = entry.compare(hosts, ref_hosts, sample)
        if msg:
            raise Mismatch(check, msg)


def compare_values(check, which, x, y, rtol, atol, overflow_order=False):
    """Host arrays ``x`` (the backend's) and ``y`` (cpu's) within rtol/atol, nan matching nan."""
    if overflow_order and x.dtype.kind not in "biu" and y.dtype.kind not in "biu":
        # a sum whose terms overflow has no defined result: inf + -inf is nan in one order and
        # +-inf in another, so any non-finite value matches a non-finite reference
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        both = ~np.isfinite(x64) & ~np.isfinite(y64)
        if both.any():
            x, y = np.where(both, 0.0, x64), np.where(both, 0.0, y64)
    report = mismatch_report(x, y, rtol, atol, equal_nan=True)
    if report is not None:
        ok, abs_err, _ = _closeness(x, y, rtol, atol, True)
        bad = np.where(ok, 0.0, np.nan_to_num(abs_err, nan=np.inf))
        raise Mismatch(check, which + report, float(bad.max()) if bad.size else None)


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
        if v.size and (v.dtype.kind == "f" or str(v.dtype) == "bfloat16"):
            f = np.abs(v.astype(np.float64))
            f = f[np.isfinite(f)]
            if f.size:
                m = max(m, float(f.max()))
        elif v.size and v.dtype.kind in "iu":
            m = max(m, float(np.abs(v.astype(np.float64)).max()))
    return m
