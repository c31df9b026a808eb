"""Running one call on every backend and judging what came back.

Checks, in order:
  (c) every exception is of the documented set (RuntimeError and its subclasses such as
      NotImplementedError, TypeError, ValueError, IndexError) and was raised on purpose by
      plugtorch (a ``raise`` statement), not by an operation inside it or by NumPy/PyOpenCL;
  (b) a call PyTorch refuses raises the class PyTorch raises, on every backend;
  (a) a call PyTorch accepts returns on every backend; cpu's result matches the NumPy
      reference (values per dtype tolerance, NaN by position, shape, and the dtype PyTorch's
      promotion gives); every other backend matches cpu, and leaves its inputs alone.
A device that declares one of the call's dtypes unsupported may refuse it with a documented
exception instead.

>>> from .generate import make_call
>>> check(make_call("neg", 3), ["cpu"])
[]
"""
from __future__ import annotations

import faulthandler
import functools
import linecache
import os
import re
import time
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

import plugtorch as pt
from plugtorch._device import canonical
from plugtorch.conformance import tolerances
from plugtorch.conformance.compare import Mismatch, compare_outputs, compare_values, flatten, host, magnitude, \
    same_values, snapshot
from .references import reference

# AssertionError: PyTorch's own Python-level checks raise it (embedding's padding_idx, MultiheadAttention's
# shapes); an `assert` statement of plugtorch's is still reported, as an internal AssertionError
DOCUMENTED = (RuntimeError, TypeError, ValueError, IndexError, AssertionError)
_STARTED = time.time()     # lines of files edited after this are not the code that runs
HANG_SECONDS = 120
_PLUGTORCH = os.path.dirname(pt.__file__)
# TypeErrors Python raises itself when arguments do not fit a signature: PyTorch raises a
# TypeError there too, so they are the documented class with a message that names the function
_SIGNATURE_ERRORS = re.compile(r"positional argument|keyword argument|required positional|multiple values for")


@dataclass
class Failure:
    """One thing wrong with one call; ``key`` = (op, kind) is what findings are deduplicated by."""

    op: str
    kind: str
    detail: str
    call: object = field(repr=False, compare=False)
    backend: str = "cpu"

    @property
    def key(self):
        return self.op, self.kind

    def __str__(self):
        return f"{self.op}: {self.kind}\n  call: {self.call.describe()}\n  {self.detail}\n  replay: {self.call.repro()}"


@dataclass
class Outcome:
    backend: str
    result: object = None
    error: BaseException | None = None
    unsupported: str | None = None      # the device's reason, when a dtype of the call is unsupported there
    modified: tuple = ()                # the tensor arguments the call changed (positions)
    args: tuple = ()
    kwargs: dict | None = None


def run_on(call, backend) -> Outcome:
    """Build the call's arguments on ``backend``, run it once and record what happened."""
    from plugtorch.backends import get_backend
    out = Outcome(backend)
    be = get_backend(backend)
    dev = canonical(backend)
    for d in _dtypes_of(call):
        reason = be.unsupported_dtype(d, dev.index)
        if reason:
            out.unsupported = reason
    try:
        args, kwargs, _ = call.sample.materialize(dev)
    except Exception as e:
        out.error = e
        return out
    out.args, out.kwargs = args, kwargs
    before = snapshot(args, kwargs)
    pt.manual_seed(call.seed % 2 ** 31)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out.result = call.fn(*args, **kwargs)
    except Exception as e:
        out.error = e
        # a call computing in a dtype the device declares unsupported (a complex result of real inputs:
        # x * 1j, fft.fft(x) on a device without complex dtypes) is refused as documented
        m = _UNSUPPORTED_RESULT.search(str(e)) if isinstance(e, TypeError) else None
        d = getattr(pt, m.group(1), None) if m is not None else None
        reason = be.unsupported_dtype(d, dev.index) if isinstance(d, pt.dtype) else None
        if reason:
            out.unsupported = reason
    if out.error is None and not call.entry.inplace:
        after = snapshot(args, kwargs)
        out.modified = tuple(k for k, (x0, x1) in enumerate(zip(before, after))
                             if x0.shape != x1.shape or not same_values(x0, x1))
    return out


_UNSUPPORTED_RESULT = re.compile(r"dtype plugtorch\.(\w+) is not supported on device")


def _dtypes_of(call):
    found = {i.dtype for i in call.sample.inputs()}
    for v in list(call.sample.args) + list(call.sample.kwargs.values()):
        if isinstance(v, pt.dtype):
            found.add(v)
    if not found or call.op in ("full", "empty", "arange", "linspace", "eye", "randperm"):
        found.add(call.dtype)
    return found


def check(call, backends) -> list:
    """Every failure of ``call`` on ``backends`` (the first of which must be cpu).

    Each backend gets at most one failure about how the call ended: an undocumented exception
    class first, else a wrong outcome, else an exception raised by accident (``internal``);
    a backend that ends the call wrong in the same way as cpu is not reported again."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)    # a hang ends the process with a traceback
    try:
        outcomes = [run_on(call, b) for b in backends]
    finally:
        faulthandler.cancel_dump_traceback_later()
    cpu = outcomes[0]
    ends = [_ending(call, o, cpu) for o in outcomes]
    failures = [f for i, f in enumerate(ends) if f is not None and (i == 0 or ends[0] is None or
                                                                       f.kind != _on(f.backend, ends[0].kind))]
    if cpu.error is None:
        failures += _check_reference(call, cpu)
        for o in outcomes[1:]:
            failures += _check_against_cpu(call, o, cpu)
    failures += _check_modified(call, outcomes)
    return failures


# ops that update some of their tensor arguments in place besides returning a result
UPDATES_ARGUMENTS = {"batch_norm"}     # its running statistics, in training mode


def _check_modified(call, outcomes):
    """Inputs are left alone (but for the running statistics of batch_norm in training), and every
    backend changes the same arguments cpu changes."""
    cpu = outcomes[0]
    failures = []
    if cpu.modified and call.op not in UPDATES_ARGUMENTS:
        failures.append(Failure(call.op, "modifies an input", f"tensor arguments {list(cpu.modified)} were "
                                "changed by the call", call))
    for o in outcomes[1:]:
        if o.error is None and cpu.error is None and o.modified != cpu.modified:
            failures.append(Failure(call.op, _on(o.backend, "changes other inputs than cpu"),
                                    f"changed tensor arguments {list(o.modified)}, cpu changes "
                                    f"{list(cpu.modified)}", call, o.backend))
    return failures


def _ending(call, o, cpu):
    exc = _check_exception(call, o)
    if exc is not None and exc.kind.split(": ")[-1].startswith("undocumented"):
        return exc
    return _check_expectation(call, o, cpu) or exc


def _on(backend, kind):
    return kind if backend == "cpu" else f"{backend}: {kind}"


# ---- (c) the documented exception classes --------------------------------------------------
def _check_exception(call, o):
    e = o.error
    if e is None:
        return None
    name = type(e).__name__
    expected = call.expect.error
    mod = type(e).__module__ or ""
    if not isinstance(e, DOCUMENTED) or mod.startswith(("pyopencl", "cupy", "array_api_strict")) \
            or (isinstance(e, np.exceptions.AxisError) and expected is not IndexError):
        package = mod.split(".")[0]      # numpy's MemoryError lives in a private module that moves
        return Failure(call.op, _on(o.backend, f"undocumented {package + '.' if package != 'builtins' else ''}{name}"),
                       _error_text(e), call, o.backend)
    origin = internal_origin(e)
    if origin:
        return Failure(call.op, _on(o.backend, f"internal {name}"), f"{_error_text(e)}\n  raised at {origin}", call,
                       o.backend)
    return None


def internal_origin(e) -> str | None:
    """Where ``e`` came from when it was not raised on purpose: a line of plugtorch (or a
    plug-in) that is not a ``raise`` statement, or a library below it (NumPy, PyOpenCL)."""
    tb = e.__traceback__
    if tb is None:
        return None
    frames = traceback.extract_tb(tb)
    last = frames[-1]
    if isinstance(e, TypeError) and _SIGNATURE_ERRORS.search(str(e)):
        return None
    in_own = last.filename.startswith(_PLUGTORCH) or "plugtorch_" in last.filename
    if in_own and _edited_since_start(last.filename):
        return None     # the file on disk is not the code that ran: its lines cannot tell
    if in_own and _is_raise(last.filename, last.lineno):
        return None
    return f"{last.filename}:{last.lineno} ({(last.line or '').strip()[:80]})"


def _edited_since_start(filename) -> bool:
    try:
        return os.path.getmtime(filename) > _STARTED
    except OSError:
        return True


def _is_raise(filename, lineno) -> bool:
    line = linecache.getline(filename, lineno).strip()
    return line.startswith("raise ") or line == "raise"


def _error_text(e):
    msg = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {msg[:300]}"


# ---- (b) and (a): the outcome PyTorch has ----------------------------------------------------
def _check_expectation(call, o, cpu):
    if o.unsupported and isinstance(o.error, DOCUMENTED):
        return None     # the device refuses a dtype it declares unsupported
    kind = _outcome_failure(call, o, cpu)
    if kind is None:
        return None
    detail = "returned a result" if o.error is None else _error_text(o.error)
    if o is not cpu and cpu.error is not None:
        detail += f"\n  cpu: {_error_text(cpu.error)}"
    return Failure(call.op, _on(o.backend, kind), detail, call, o.backend)


def _outcome_failure(call, o, cpu) -> str | None:
    """What is wrong with how the call ended on ``o``'s backend, or None."""
    exp = call.expect
    e = o.error
    what = call.invalid
    if exp.outcome == "error":
        if e is None:
            return f"no error for {what} (PyTorch: {exp.error_name})"
        if not isinstance(e, exp.error):
            return f"{type(e).__name__} instead of {exp.error_name} for {what}"
        if o is cpu or not isinstance(cpu.error, exp.error) or type(e) is type(cpu.error):
            return None
        return f"raises {type(e).__name__} where cpu raises {type(cpu.error).__name__}"
    if exp.outcome == "valid":
        if e is not None:
            return f"valid call raises {type(e).__name__}"
        return None
    if o is cpu:
        return None
    if cpu.error is None:
        return None if e is None else f"raises {type(e).__name__} where cpu returns"
    if e is None:
        return "returns where cpu raises"
    if type(e) is not type(cpu.error):
        return f"raises {type(e).__name__} where cpu raises {type(cpu.error).__name__}"
    return None


# results that add up terms: a sum of finite values may overflow in one order and not in another,
# so a non-finite result matches a non-finite reference there; elsewhere NaN and inf sit where
# the reference has them
SUMS = {"sum", "prod", "mean", "cumsum", "cumprod", "var", "std", "var_mean", "std_mean", "logsumexp", "norm",
        "vector_norm", "matmul", "_matmul", "mm", "bmm", "dot", "einsum"}


def _check_reference(call, cpu):
    """cpu's result against the NumPy reference: dtype, shape, values."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ref = reference(call)
    except Exception:       # the reference cannot evaluate this call (not the library's fault)
        ref = None
    if ref is None:
        return []
    outs = [o for o in flatten(cpu.result)]
    if len(outs) != len(ref) or not all(isinstance(o, pt.Tensor) for o in outs):
        return [Failure(call.op, "result structure differs from NumPy",
                        f"returned {len(outs)} outputs, NumPy {len(ref)}", call)]
    for i, (o, (want, dtype)) in enumerate(zip(outs, ref)):
        which = "" if len(outs) == 1 else f"output {i}: "
        if o.dtype is not dtype:
            return [Failure(call.op, "dtype differs from PyTorch's promotion",
                            f"{which}result dtype {o.dtype.name}, PyTorch gives {dtype.name}", call)]
        if tuple(o.shape) != tuple(want.shape):
            return [Failure(call.op, "shape differs from NumPy",
                            f"{which}result shape {tuple(o.shape)}, NumPy gives {tuple(want.shape)}", call)]
        got = host(o)
        rtol, atol = _reference_tolerance(call, dtype)
        try:
            # (the sign of a zero is NumPy's here, not PyTorch's: remainder(0., -1.) is -0.0 in
            # NumPy and +0.0 in torch, relu(-0.) keeps -0.0 only in torch; the conformance suite
            # compares zero signs against cpu, which follows PyTorch)
            compare_values("numpy", which, got, want.astype(got.dtype), rtol, atol,
                           overflow_order=call.op in SUMS and (call.sample.reduction_length or 0) > 1,
                           signed_zeros=False)
        except Mismatch as m:
            return [Failure(call.op, "values differ from NumPy", m.message, call)]
    return []


def _reference_tolerance(call, dtype):
    """PyTorch's table, doubled for half precision (cpu and NumPy may round at different steps),
    loosened for sums as conformance does."""
    rtol, atol = tolerances.default(dtype)
    if dtype in (pt.float16, pt.bfloat16):
        rtol, atol = 2 * rtol, 2 * atol
    if call.sample.reduction_length:
        rtol, atol = tolerances.for_reduction(dtype, call.sample.reduction_length, magnitude(call.sample),
                                              (rtol, atol))
    return rtol, atol


def _check_against_cpu(call, o, cpu):
    if o.error is not None:
        return []
    tol = functools.partial(tolerances.for_sample, call.entry, sample=call.sample, magnitude=magnitude(call.sample))
    expected_dev = canonical("cpu" if call.sample.out_device == "cpu" else o.backend)
    try:
        compare_outputs(call.entry, call.sample, o.result, cpu.result, expected_dev, tol, "forward")
    except Mismatch as m:
        return [Failure(call.op, _on(o.backend, f"{m.check} differs from cpu"), m.message.splitlines()[0][:300], call,
                        o.backend)]
    if call.entry.inplace and call.entry.compare is None:
        try:
            a, b = snapshot(o.args, o.kwargs), snapshot(cpu.args, cpu.kwargs)
            if a and b:
                rtol, atol = tol(_inplace_dtype(b[0]))
                compare_values("in-place", "input 0 after the call: ", a[0], b[0], rtol, atol)
        except Mismatch as m:
            return [Failure(call.op, _on(o.backend, "in-place result differs from cpu"), m.message[:300], call,
                            o.backend)]
    return []


def _inplace_dtype(arr):
    from plugtorch import _dtypes
    return _dtypes.from_numpy_dtype(arr.dtype)

