"""The checks: every entry x dtype x sample on a backend, compared with the same call on cpu.

For each sample: forward values, the result's shape / dtype / device, inputs unchanged (or,
for in-place ops, mutated as on cpu), gradients of every float input (``autograd.grad`` with
a fixed random grad_output); then each error input must raise cpu's exception type; a dtype
the device declares unsupported must raise a TypeError naming it.

>>> results = run(["cpu"], [opdb.get("neg")], dtypes=[plugtorch.float32], max_examples=2)
>>> results[0].status
'pass'
"""
from __future__ import annotations

import functools
import math
import re
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch._device import canonical
from plugtorch.dispatch.dispatcher import cpu_fallback_enabled
from plugtorch.dispatch.registry import OPS
from plugtorch.testing import _closeness, mismatch_report

from . import tolerances
from .samples import SampleContext

PASS, FAIL, UNSUPPORTED = "pass", "FAIL", "unsupported"
VIA_FALLBACK, VIA_DECOMPOSITION = "via fallback", "via decomposition"
STATUSES = (PASS, FAIL, UNSUPPORTED, VIA_FALLBACK, VIA_DECOMPOSITION)

# Gradients are compared in float32 and float64. In float16/bfloat16 a backward formula chains
# several rounded ops, and where it subtracts nearly equal numbers (1 - sigmoid(x), rsqrt's
# x ** -1.5) a one-ulp difference in the forward result, which the forward check accepts,
# becomes an arbitrarily large relative difference; those ops' half-precision kernels are
# checked by the forward checks of the ops the formulas are made of.
GRAD_DTYPES = (pt.float32, pt.float64)


@dataclass
class Failure:
    """The first thing that went wrong for one op and dtype."""

    check: str          # forward, shape, dtype, device, input modified, gradient, error input ...
    sample: str         # the call, with input dtypes, shapes and layouts
    message: str
    max_error: float | None = None

    def __str__(self):
        err = "" if self.max_error is None else f" (max error {self.max_error:.3g})"
        return f"{self.check}{err}: {self.sample}\n{self.message}"


@dataclass
class Result:
    backend: str
    op: str
    dtype: str
    status: str
    samples: int = 0
    failures: list = field(default_factory=list)
    skipped: int = 0    # samples the cpu reference could not run (reported by the cpu run)
    seconds: float = 0.0


class _Skip(Exception):
    """The device cannot hold one of the sample's inputs (an unsupported dtype of a secondary input)."""


class _Mismatch(Exception):
    def __init__(self, check, message, max_error=None):
        super().__init__(message)
        self.check, self.message, self.max_error = check, message, max_error


def kernel_route(backend, entry) -> str:
    """How the backend runs the op: PASS (its own kernel), via decomposition or via cpu fallback."""
    op = OPS.get(entry.op)
    if op is None:
        return PASS
    has_kernel = entry.op in backend.kernels and op.meta is not None
    if op.is_core:
        fallback = cpu_fallback_enabled() or entry.op in backend.fallback_ops   # declared by the backend
        return PASS if has_kernel or not fallback or backend.name == "cpu" else VIA_FALLBACK
    return PASS if has_kernel else VIA_DECOMPOSITION


def run(backends, entries, dtypes=None, *, seed: int = 0, max_examples: int = 6, progress=None) -> list:
    """Check ``entries`` on each backend; ``progress(backend, entry)`` is called after each entry."""
    results = []
    for name in backends:
        for entry in entries:
            for dt in entry.dtypes:
                if dtypes is None or dt in dtypes:
                    results.append(check_entry(entry, dt, name, seed=seed, max_examples=max_examples))
            if progress is not None:
                progress(name, entry)
    return results


def check_entry(entry, dtype, backend_name: str, *, seed: int = 0, max_examples: int = 6) -> Result:
    """All checks of one entry and dtype on one backend."""
    start = time.perf_counter()
    res = _check_entry(entry, dtype, backend_name, seed, max_examples)
    res.seconds = time.perf_counter() - start
    return res


def _check_entry(entry, dtype, backend_name, seed, max_examples):
    from plugtorch.backends import get_backend
    be = get_backend(backend_name)
    dev = canonical(backend_name)
    ctx = SampleContext(dtype, seed=seed, max_examples=max_examples, key=entry.name)
    res = Result(backend_name, entry.name, dtype.name, PASS)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            samples = list(entry.samples(ctx))
        except Exception as e:
            res.status = FAIL
            res.failures = [Failure("reference", "(building the samples)", f"the entry's sample generator "
                                    f"raised {type(e).__name__}: {e}")]
            return res
        if getattr(be, "flushes_subnormals", False):
            for s in samples:
                flush_subnormals(s)
        res.samples = len(samples)
        reason = be.unsupported_dtype(dtype, dev.index)
        if reason:
            failure = _check_unsupported(entry, dtype, dev, samples, reason)
            res.status = FAIL if failure else UNSUPPORTED
            res.failures = [failure] if failure else []
            return res
        for s in samples:
            failure = _guard(lambda: check_sample(entry, dtype, s, dev, seed), s)
            if failure is not None and (failure.check == "skipped" or
                                        (failure.check == "reference" and dev.type != "cpu")):
                res.skipped += 1   # not this backend's fault (the cpu run reports reference failures)
                continue
            if failure is not None:
                res.failures.append(failure)
                break
        if not res.failures and entry.error_inputs is not None:
            try:
                error_inputs = list(entry.error_inputs(ctx))
            except Exception as e:
                error_inputs = []
                res.failures.append(Failure("reference", "(building the error inputs)", f"the entry's "
                                            f"error_inputs raised {type(e).__name__}: {e}"))
            for ei in error_inputs:
                failure = _guard(lambda: check_error_input(entry, ei, dev), ei.sample)
                if failure is not None and (failure.check == "skipped" or
                                            (failure.check == "reference" and dev.type != "cpu")):
                    res.skipped += 1
                    continue
                if failure is not None:
                    res.failures.append(failure)
                    break
    res.status = FAIL if res.failures else kernel_route(be, entry)
    return res


def _guard(fn, sample):
    try:
        fn()
    except _Mismatch as m:
        return Failure(m.check, sample.describe(), m.message, m.max_error)
    except _Skip as s:
        return Failure("skipped", sample.describe(), str(s))
    except Exception as e:   # a check that crashes is a failure of this sample, not of the run
        return Failure("crash", sample.describe(), f"checking raised {type(e).__name__}: {e}")
    return None


# ---- one sample ----------------------------------------------------------------------------
def check_sample(entry, dtype, sample, dev, seed=0) -> None:
    cpu = canonical("cpu")
    ref_args, ref_kwargs, _ = sample.materialize(cpu)
    pt.manual_seed(seed)
    try:
        ref_out = entry.fn(*ref_args, **ref_kwargs)
    except Exception as e:
        raise _Mismatch("reference", f"cpu raised {type(e).__name__}: {e}\n(the reference itself "
                        f"fails: a bug in the cpu backend, or a bad sample in the entry '{entry.name}')") from None
    args, kwargs, _ = _materialize(sample, dev)
    before = _snapshot(args, kwargs)
    pt.manual_seed(seed)
    try:
        out = entry.fn(*args, **kwargs)
    except Exception as e:
        raise _Mismatch("forward", f"raised {type(e).__name__}: {e}\n(cpu returns a result)") from None
    expected_dev = cpu if sample.out_device == "cpu" else dev
    tol = functools.partial(tolerances.for_sample, entry, sample=sample, magnitude=_magnitude(sample))
    _compare_outputs(entry, sample, out, ref_out, expected_dev, tol, "forward")
    _check_inputs(entry, args, kwargs, before, ref_args, ref_kwargs, tol)
    if entry.op in OPS and "view" in OPS[entry.op].tags and entry.op != "expand":
        # (expand's results are mostly broadcasts, which nobody may write into)
        _check_view_aliases(sample, out, args, ref_out, ref_args)
    if entry.differentiable and dtype in GRAD_DTYPES:
        _check_gradients(entry, sample, dev, seed, tol)


def _compare_outputs(entry, sample, out, ref, expected_dev, tol, check):
    outs, refs = _leaves(out), _leaves(ref)
    if len(outs) != len(refs) or any(isinstance(a, pt.Tensor) != isinstance(b, pt.Tensor) for a, b in zip(outs, refs)):
        raise _Mismatch(check, f"returned {_kind(out)}, cpu returns {_kind(ref)}")
    if entry.compare is not None:
        hosts = [_host(a) if isinstance(a, pt.Tensor) else a for a in outs]
        ref_hosts = [_host(b) if isinstance(b, pt.Tensor) else b for b in refs]
    for i, (a, b) in enumerate(zip(outs, refs)):
        which = "" if len(outs) == 1 else f"output {i}: "
        if not isinstance(a, pt.Tensor):
            if a != b and not (a != a and b != b):
                raise _Mismatch(check, f"{which}returned {a!r}, cpu returns {b!r}")
            continue
        if tuple(a.shape) != tuple(b.shape):
            raise _Mismatch("shape", f"{which}result has shape {tuple(a.shape)}, cpu's has {tuple(b.shape)}")
        if a.dtype is not b.dtype:
            raise _Mismatch("dtype", f"{which}result has dtype {a.dtype}, cpu's has {b.dtype}")
        if a.device != expected_dev:
            raise _Mismatch("device", f"{which}result is on {a.device}, expected {expected_dev}")
        if entry.compare is None:
            _compare_values(check, which, _host(a), _host(b), *tol(b.dtype),
                            overflow_order=(sample.reduction_length or 0) > 1)
    if entry.compare is not None:
        msg = entry.compare(hosts, ref_hosts, sample)
        if msg:
            raise _Mismatch(check, msg)


def _compare_values(check, which, x, y, rtol, atol, overflow_order=False):
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
        raise _Mismatch(check, which + report, float(bad.max()) if bad.size else None)


def _check_inputs(entry, args, kwargs, before, ref_args, ref_kwargs, tol):
    after = _snapshot(args, kwargs)
    ref_after = _snapshot(ref_args, ref_kwargs)
    for k, (x0, x1) in enumerate(zip(before, after)):
        if entry.inplace and k == 0:
            if entry.compare is None:
                rtol, atol = tol(_dtypes.from_numpy_dtype(ref_after[0].dtype))
                _compare_values("in-place result", "input 0 after the call: ", x1, ref_after[0], rtol, atol)
            continue
        if x0.shape != x1.shape or not _same(x0, x1):
            raise _Mismatch("input modified", f"tensor argument {k} was changed by the call "
                            "(cpu leaves its inputs alone); kernels must write into new memory")


def _check_view_aliases(sample, out, args, ref_out, ref_args):
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
            raise _Mismatch("view", f"writing into the result raised {type(e).__name__}: {e}\n(on cpu it "
                            "writes into the input: view kernels must return writable views)") from None
    got, want = _host(args[0]), _host(ref_args[0])
    if not _same(got, want):
        raise _Mismatch("view", "writing into the result did not write into the input as on cpu: a view "
                        "kernel must return an array sharing the input's memory (strides and an offset), "
                        "not a copy")


def _check_gradients(entry, sample, dev, seed, tol):
    cpu = canonical("cpu")
    ref_grads, ref_outs = _grads(entry, sample, cpu, seed, None)  # noqa: F841
    if ref_grads is None:
        return
    grad_outputs = [_host(g) for g in ref_outs]
    grads, _ = _grads(entry, sample, dev, seed, grad_outputs)
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        which = f"gradient of input {i}: "
        if (g is None) != (r is None):
            raise _Mismatch("gradient", f"{which}{'None' if g is None else 'a tensor'}, cpu gives "
                            f"{'None' if r is None else 'a tensor'}")
        if g is None:
            continue
        if tuple(g.shape) != tuple(r.shape) or g.dtype is not r.dtype:
            raise _Mismatch("gradient", f"{which}{g.dtype}{list(g.shape)}, cpu gives {r.dtype}{list(r.shape)}")
        # backward sums grad_output over broadcast dims: loosen as for a reduction of that length
        n = max(1, _numel(grads_out_shape(ref_outs)) // max(1, r.numel()))
        rtol, atol = tolerances.for_reduction(r.dtype, n, 4.0 * max(1.0, _magnitude(sample)), tol(r.dtype))
        _compare_values("gradient", which, _host(g), _host(r), rtol, atol, overflow_order=n > 1)


def _materialize(sample, dev, grad=False):
    try:
        return sample.materialize(dev, grad=grad)
    except TypeError as e:
        if "not supported on device" in str(e):
            raise _Skip(str(e)) from None
        raise _Mismatch("forward", f"building the inputs on {dev} raised TypeError: {e}") from None
    except Exception as e:
        raise _Mismatch("forward", f"building the inputs on {dev} raised {type(e).__name__}: {e}") from None


def _grads(entry, sample, device, seed, grad_outputs):
    """Gradients of the float inputs; ``grad_outputs`` None draws them (fixed seed) on cpu."""
    args, kwargs, leaves = _materialize(sample, device, grad=True)
    if not leaves:
        return None, None
    pt.manual_seed(seed)
    outs = [o for o in _leaves(entry.fn(*args, **kwargs)) if isinstance(o, pt.Tensor) and o.requires_grad]
    if not outs:
        return None, None
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        gos = [pt.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=o.device) for o in outs]
    else:
        gos = [pt.tensor(g, dtype=o.dtype, device=o.device) for g, o in zip(grad_outputs, outs)]
    try:
        grads = pt.autograd.grad(outs, leaves, gos, allow_unused=True)
    except Exception as e:
        if grad_outputs is None:
            raise _Mismatch("reference", f"cpu backward raised {type(e).__name__}: {e}") from None
        raise _Mismatch("gradient", f"backward raised {type(e).__name__}: {e}\n(cpu computes it)") from None
    return grads, gos


# ---- error inputs and unsupported dtypes ----------------------------------------------------
def check_error_input(entry, ei, dev) -> None:
    cpu = canonical("cpu")
    cpu_err = _raised(entry, ei.sample, cpu)
    if cpu_err is None or type(cpu_err) is not ei.error or (ei.match and not re.search(ei.match, str(cpu_err))):
        got = "no error" if cpu_err is None else f"{type(cpu_err).__name__}: {cpu_err}"
        raise _Mismatch("reference", f"the database expects {ei.error.__name__}"
                        f"{f' matching {ei.match!r}' if ei.match else ''} on cpu, got {got}")
    err = _raised(entry, ei.sample, dev)
    if err is None:
        raise _Mismatch("error input", f"returned a result; cpu raises {type(cpu_err).__name__}: {cpu_err}")
    if type(err) is not type(cpu_err):
        raise _Mismatch("error input", f"raised {type(err).__name__}: {err}\ncpu raises "
                        f"{type(cpu_err).__name__}: {cpu_err}")


def _raised(entry, sample, device):
    args, kwargs, _ = _materialize(sample, device)
    try:
        entry.fn(*args, **kwargs)
    except Exception as e:
        return e
    return None


def _check_unsupported(entry, dtype, dev, samples, reason):
    if not samples:
        return None
    s = samples[0]
    try:
        args, kwargs, _ = s.materialize(dev)
        entry.fn(*args, **kwargs)
    except TypeError as e:
        if dtype.name in str(e):
            return None
        return Failure("unsupported dtype", s.describe(), f"the TypeError does not name the dtype {dtype}: {e}")
    except Exception as e:
        return Failure("unsupported dtype", s.describe(), f"raised {type(e).__name__}: {e}\n(the device "
                       f"declares {dtype} unsupported ({reason}), so a TypeError naming it is expected)")
    return Failure("unsupported dtype", s.describe(), f"returned a result, but the device declares {dtype} "
                   f"unsupported ({reason}); it must raise a TypeError instead of returning numbers")


# ---- helpers ------------------------------------------------------------------------------
def _leaves(out):
    if isinstance(out, (list, tuple)):
        return [x for o in out for x in _leaves(o)]
    return [out]


def _numel(shape) -> int:
    return math.prod(shape)


def grads_out_shape(outs):
    """The largest output shape (how many grad_output elements can flow into one input element)."""
    return max((tuple(o.shape) for o in outs), key=_numel, default=())


def _kind(out):
    if isinstance(out, (list, tuple)):
        return f"{type(out).__name__} of {len(out)}"
    return type(out).__name__


def _host(t) -> np.ndarray:
    return np.array(t.detach()._host(), copy=True)


def _snapshot(args, kwargs):
    return [_host(t) for t in _leaves(list(args) + list(kwargs.values())) if isinstance(t, pt.Tensor)]


def _same(x, y):
    if x.dtype.kind == "f" or str(x.dtype) == "bfloat16":
        a, b = x.astype(np.float64), y.astype(np.float64)
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))) and
                    np.array_equal(np.signbit(a), np.signbit(b)))
    return bool(np.array_equal(x, y))


def flush_subnormals(sample) -> None:
    """For backends declaring ``flushes_subnormals`` (GPUs in fast mode flush float32 subnormals
    to zero, dropping the sign): inputs in float16/bfloat16/float32 lose their subnormals and
    signed zeros, and tiny magnitudes are raised to sqrt(tiny) so squares and products stay
    normal. Both cpu and the device then see the same, representable inputs."""
    for inp in sample.inputs():
        if inp.dtype not in (pt.float16, pt.bfloat16, pt.float32):
            continue
        v = inp.values.astype(np.float64)
        tiny = float(_dtypes.finfo(inp.dtype).tiny)
        small = (v != 0) & (np.abs(v) < np.sqrt(tiny))
        v = np.where(small, np.sign(v) * np.sqrt(tiny), v)
        v = np.where(v == 0, 0.0, v)          # -0.0 -> +0.0
        inp.values = v.astype(inp.values.dtype)


def _magnitude(sample) -> float:
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
