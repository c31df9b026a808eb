"""The checks: every entry x dtype x sample on a backend, compared with the same call on cpu.

For each sample: forward values, the result's shape / dtype / device, inputs unchanged (or,
for in-place ops, mutated as on cpu), gradients of every float input (``autograd.grad`` with
a fixed random grad_output); then each error input must raise cpu's exception type; a dtype
the device declares unsupported must raise a TypeError naming it. While a backend is checked,
every one of its kernel results is checked itself (``checking_results``: native array type,
the meta's dtype, shape, layout, device), and a wrong one fails as "kernel result".

A failing sample is run once more under a recorder, and its ``Failure`` lists the kernels that
ran on the device (forward, then backward), and prints its inputs.

>>> results = run(["cpu"], [opdb.get("neg")], dtypes=[plugtorch.float32], max_examples=2)
>>> results[0].status
'pass'
"""
from __future__ import annotations

import functools
import re
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch._device import canonical
from plugtorch.backends.base import MissingCapabilityError
from plugtorch.dispatch.dispatcher import cpu_fallback_enabled, record_fallbacks
from plugtorch.dispatch.host import is_host_decomposition, record_host_round_trips
from plugtorch.dispatch.checked import KernelResultError, checking_results
from plugtorch.dispatch.registry import OPS

from . import tolerances
from .compare import (Mismatch, check_inputs, check_view_aliases, compare_outputs, compare_values,
                      describe_inputs, flatten, grads_out_shape, host, magnitude, numel, snapshot)
from .recorder import KernelRecorder
from .samples import SampleContext
from .seeding import check_seeding

PASS, FAIL, UNSUPPORTED = "pass", "FAIL", "unsupported"
VIA_FALLBACK, VIA_DECOMPOSITION = "via fallback", "via decomposition"
VIA_HOST = "via host"   # an op without a device kernel ran through host memory (dispatch/host.py)
GRAPH_BREAK = "graph break"     # jit mode: a sample's trace read tensor data (jit_mode.py)
STATUSES = (PASS, FAIL, UNSUPPORTED, VIA_FALLBACK, VIA_DECOMPOSITION, GRAPH_BREAK, VIA_HOST)

# Gradients are compared in float32 and float64. In float16/bfloat16 a backward formula chains
# several rounded ops, and where it subtracts nearly equal numbers (1 - sigmoid(x), rsqrt's
# x ** -1.5) a one-ulp difference in the forward result, which the forward check accepts,
# becomes an arbitrarily large relative difference; those ops' half-precision kernels are
# checked by the forward checks of the ops the formulas are made of.
GRAD_DTYPES = (pt.float32, pt.float64)


def checks_gradients(entry, dtype) -> bool:
    """Whether ``entry``'s gradients are compared in ``dtype``: the float dtypes, and the complex
    ones for entries of ops on autograd's complex allowlist (``Entry(complex_grad=True)``)."""
    return entry.differentiable and (dtype in GRAD_DTYPES or
                                     (getattr(entry, "complex_grad", False) and dtype.is_complex))


def draw_grad_outputs(rng, outs):
    """Random gradients for ``outs`` (complex ones get random imaginary parts too)."""
    def draw(o):
        shape = tuple(o.shape)
        v = rng.standard_normal(shape)
        return v + 1j * rng.standard_normal(shape) if o.dtype.is_complex else v
    return [pt.tensor(draw(o), dtype=o.dtype, device=o.device) for o in outs]
# jit mode: entry x dtype checks traced before any of them replays, so that a backend building its
# fused kernels at their first call (opencl: one program for all waiting) builds a batch at once
JIT_BATCH = 64


@dataclass
class Failure:
    """The first thing that went wrong for one op and dtype."""

    check: str          # forward, shape, dtype, device, input modified, gradient, error input ...
    sample: str         # the call, with input dtypes, shapes and layouts
    message: str
    max_error: float | None = None
    index: int | None = None     # the sample's number: samples first, then error inputs (``--sample N``)
    rerun: str = ""              # one command that reruns exactly this sample
    kernels: list = field(default_factory=list)   # the kernels that ran for the failing sample

    def __str__(self):
        err = "" if self.max_error is None else f" (max error {self.max_error:.3g})"
        num = "" if self.index is None else f"sample {self.index}, "
        text = f"{num}{self.check}{err}: {self.sample}\n{self.message}"
        return text + (f"\nrerun: {self.rerun}" if self.rerun else "")


@dataclass
class Result:
    """The outcome of one op and dtype on one backend: a status of ``STATUSES`` and its failures;
    ``mode`` "jit" for the jit mode's checks of them (jit_mode.py)."""

    backend: str
    op: str
    dtype: str
    status: str
    samples: int = 0
    failures: list = field(default_factory=list)
    skipped: int = 0    # samples the cpu reference could not run (reported by the cpu run)
    seconds: float = 0.0
    fallbacks: list = field(default_factory=list)   # ops that ran on cpu through the fallback meanwhile
    host_ops: list = field(default_factory=list)    # ops that ran through host memory (via host)
    mode: str = "eager"
    breaks: list = field(default_factory=list)      # jit mode: (sample index, reason) of each graph break


class _Skip(Exception):
    """The device cannot hold one of the sample's inputs (an unsupported dtype of a secondary input)."""


def kernel_route(backend, entry) -> str:
    """How the backend runs the op: PASS (its own kernel), via decomposition, via host (a composite whose
    decomposition is the host round trip) or via cpu fallback."""
    op = OPS.get(entry.op)
    if op is None:
        return PASS
    has_kernel = entry.op in backend.kernels and op.meta is not None
    if op.is_core:
        fallback = cpu_fallback_enabled() or entry.op in backend.fallback_ops   # declared by the backend
        return PASS if has_kernel or not fallback or backend.name == "cpu" else VIA_FALLBACK
    if has_kernel:
        return PASS
    return VIA_HOST if is_host_decomposition(op) and backend.name != "cpu" else VIA_DECOMPOSITION


def run(backends, entries, dtypes=None, *, seed: int = 0, max_examples: int = 6, progress=None,
        sample: int | None = None, jit: bool = False) -> list:
    """Check ``entries`` on each backend; ``progress(backend, entry)`` is called after each entry;
    ``sample`` N checks only the N-th sample of each entry and dtype (see ``Failure.index``);
    ``jit`` adds, after each entry and dtype, the jit mode's Result (jit_mode.py): up to
    ``JIT_BATCH`` entries and dtypes are traced before their replays run."""
    if jit:
        from .jit_mode import EntryJit
    results = []
    waiting = []    # (index in results, EntryJit): traced, replayed together (their fused kernels build at once)

    def replay_waiting():
        for _, job in waiting:     # (after every module of the batch is built: see EntryJit)
            job.first_calls()
        for k, job in waiting:
            results[k] = job.finish()
        waiting.clear()

    for name in backends:
        with checking_results(canonical(name).type):
            for entry in entries:
                for dt in entry.dtypes:
                    if dtypes is None or dt in dtypes:
                        results.append(check_entry(entry, dt, name, seed=seed, max_examples=max_examples,
                                                   sample=sample))
                        if jit:
                            waiting.append((len(results), EntryJit(entry, dt, name, seed=seed,
                                                                   max_examples=max_examples, sample=sample)))
                            results.append(None)
                            if len(waiting) >= JIT_BATCH:
                                replay_waiting()
                if progress is not None:
                    progress(name, entry)
            replay_waiting()
    return results


def check_entry(entry, dtype, backend_name: str, *, seed: int = 0, max_examples: int = 6,
                sample: int | None = None) -> Result:
    """All checks of one entry and dtype on one backend (only the ``sample``-th when given)."""
    start = time.perf_counter()
    with record_fallbacks() as fell_back, record_host_round_trips() as via_host:
        with checking_results(canonical(backend_name).type):
            res = _check_entry(entry, dtype, backend_name, seed, max_examples, sample)
    res.seconds = time.perf_counter() - start
    res.fallbacks = sorted(fell_back)
    res.host_ops = sorted(via_host)
    if fell_back and res.status == PASS:   # a module or a backward that needed an op through the fallback
        res.status = VIA_FALLBACK
    if via_host and res.status in (PASS, VIA_DECOMPOSITION):   # (pinv's svd, an svd in a backward ...)
        res.status = VIA_HOST
    for f in res.failures:
        if f.index is not None:
            f.rerun = rerun_command(backend_name, entry.name, dtype.name, f.index, seed, max_examples)
    return res


def rerun_command(backend, op, dtype, index, seed=0, max_examples=6, jit=False) -> str:
    """The command line that checks exactly one sample again."""
    extra = (f" --seed {seed}" if seed != 0 else "") + (f" --max-examples {max_examples}" if max_examples != 6 else "")
    return (f"plugtorch-conformance --backend {backend} --op '{op}' --dtype {dtype} --sample {index}{extra}"
            + (" --jit" if jit else ""))


def _check_entry(entry, dtype, backend_name, seed, max_examples, only=None):
    from plugtorch.backends import get_backend
    be = get_backend(backend_name)
    dev = canonical(backend_name)
    ctx = SampleContext(dtype, seed=seed, max_examples=max_examples, key=entry.name)
    res = Result(backend_name, entry.name, dtype.name, PASS)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        samples, failure = build_samples(entry, ctx, be)
        if failure is not None:
            res.status, res.failures = FAIL, [failure]
            return res
        res.samples = len(samples)
        reason = be.unsupported_dtype(dtype, dev.index)
        if reason:
            failure = _check_unsupported(entry, dtype, dev, samples, reason)
            res.status = FAIL if failure else UNSUPPORTED
            res.failures = [failure] if failure else []
            return res
        record = functools.partial(_record_kernels, entry, dtype, dev, seed)
        _run_checks(res, dev, ((i, s, functools.partial(check_sample, entry, dtype, s, dev, seed))
                               for i, s in enumerate(samples) if only is None or i == only), record)
        if not res.failures and entry.error_inputs is not None and (only is None or only >= len(samples)):
            try:
                error_inputs = list(entry.error_inputs(ctx))
            except Exception as e:
                error_inputs = []
                res.failures.append(Failure("reference", "(building the error inputs)", f"the entry's "
                                            f"error_inputs raised {type(e).__name__}: {e}"))
            _run_checks(res, dev, ((len(samples) + j, ei.sample, functools.partial(check_error_input, entry, ei, dev))
                                   for j, ei in enumerate(error_inputs) if only is None or len(samples) + j == only),
                        functools.partial(record, backward=False))
    res.status = FAIL if res.failures else kernel_route(be, entry)
    if res.failures and res.failures[0].check == UNSUPPORTED:
        res.status = UNSUPPORTED   # (its failure says which capability the backend lacks)
    return res


def build_samples(entry, ctx, be):
    """(the entry's samples from ``ctx``, None), their subnormals flushed for a backend that
    flushes them; or (None, a "reference" Failure) when the entry's generator raises."""
    try:
        samples = list(entry.samples(ctx))
    except Exception as e:
        return None, Failure("reference", "(building the samples)", f"the entry's sample generator raised "
                             f"{type(e).__name__}: {e}")
    if getattr(be, "flushes_subnormals", False):
        for s in samples:
            flush_subnormals(s)
    return samples, None


def _run_checks(res, dev, checks, record) -> None:
    """Run ``(index, sample, check)`` triples until one fails, recording the failure in ``res``;
    skipped samples, and reference failures off cpu, only count as skipped: they are not this
    backend's fault (the cpu run reports reference failures). The failing sample runs again
    under ``record(sample)``, which lists the kernels that ran (forward, backward)."""
    for index, sample, check in checks:
        failure = _guard(check, sample)
        if failure is None:
            continue
        failure.index = index
        if failure.check == "skipped" or (failure.check == "reference" and dev.type != "cpu"):
            res.skipped += 1
            continue
        forward, backward = record(sample)
        failure.kernels = list(dict.fromkeys(forward + backward))
        failure.message += _kernels_text(failure.check, dev, forward, backward) + describe_inputs(sample)
        res.failures.append(failure)
        return


def _guard(fn, sample):
    try:
        fn()
    except Mismatch as m:
        if isinstance(m.__context__, MissingCapabilityError):   # declared by the backend: unsupported, not wrong
            return Failure(UNSUPPORTED, sample.describe(), str(m.__context__))
        return Failure(m.check, sample.describe(), m.message, m.max_error)
    except _Skip as s:
        return Failure("skipped", sample.describe(), str(s))
    except Exception as e:   # a check that crashes is a failure of this sample, not of the run
        m = _mismatch(e, "crash", f"checking raised {type(e).__name__}: {e}")
        return Failure(m.check, sample.describe(), m.message)
    return None


def _mismatch(e, check, message) -> Mismatch:
    """``Mismatch(check, message)`` for exception ``e``, or a "kernel result" one when a kernel
    returned the wrong thing (``e`` or its cause is a ``KernelResultError``)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KernelResultError):
            return Mismatch("kernel result", str(e))
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return Mismatch(check, message)


def _record_kernels(entry, dtype, dev, seed, sample, backward=True):
    """The kernels that run on ``dev`` for ``sample``: (forward names, backward names), each
    deduplicated in order of first use. Whatever the sample raises is ignored here."""
    rec = KernelRecorder(dev)
    grad = backward and checks_gradients(entry, dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            args, kwargs, leaves = sample.materialize(dev, grad=grad)
            pt.manual_seed(seed)
            with rec:
                outs = [o for o in flatten(entry.fn(*args, **kwargs))
                        if isinstance(o, pt.Tensor) and o.requires_grad]
            if grad and leaves and outs:
                gos = [pt.ones(tuple(o.shape), dtype=o.dtype, device=o.device) for o in outs]
                rec.phase = "backward"
                with rec:
                    pt.autograd.grad(outs, leaves, gos, allow_unused=True)
        except Exception:  # noqa: BLE001  (the failure itself is reported by the check)
            pass
    return rec.forward, rec.backward


def _kernels_text(check, dev, forward, backward) -> str:
    if check == "gradient":
        return (f"\nbackward kernels that ran on {dev}: {', '.join(backward) or '(none)'}"
                f"\n(forward kernels: {', '.join(forward) or '(none)'}; the gradient is computed by the "
                "backward ones: check those first)")
    if not forward and not backward:
        return ""
    text = f"\nkernels that ran on {dev}: {', '.join(forward) or '(none)'}"
    return text + (f"; backward: {', '.join(backward)}" if backward else "")


# ---- one sample ----------------------------------------------------------------------------
def check_sample(entry, dtype, sample, dev, seed=0) -> None:
    """Forward values, result metadata, untouched inputs, view aliasing and gradients of one sample
    against cpu; raises ``Mismatch`` at the first difference."""
    cpu = canonical("cpu")
    ref_args, ref_kwargs, _ = sample.materialize(cpu)
    pt.manual_seed(seed)
    try:
        ref_out = entry.fn(*ref_args, **ref_kwargs)
    except Exception as e:
        raise _mismatch(e, "reference", f"cpu raised {type(e).__name__}: {e}\n(the reference itself "
                        f"fails: a bug in the cpu backend, or a bad sample in the entry '{entry.name}')") from None
    args, kwargs, _ = _materialize(sample, dev)
    before = snapshot(args, kwargs)
    pt.manual_seed(seed)
    try:
        out = entry.fn(*args, **kwargs)
    except Exception as e:
        raise _mismatch(e, "forward", f"raised {type(e).__name__}: {e}\n(cpu returns a result)") from None
    expected_dev = cpu if sample.out_device == "cpu" else dev
    tol = functools.partial(tolerances.for_sample, entry, sample=sample, magnitude=magnitude(sample))
    forward_tol = functools.partial(tol, forward=True)
    compare_outputs(entry, sample, out, ref_out, expected_dev, forward_tol, "forward")
    check_inputs(entry, args, kwargs, before, ref_args, ref_kwargs, forward_tol)
    if entry.op in OPS and "view" in OPS[entry.op].tags and entry.op != "expand" and \
            (OPS[entry.op].decomposition is None or _has_kernel(dev, entry.op)):
        # (expand's results are mostly broadcasts, which nobody may write into; a view op with a
        # decomposition, unfold, is a copy on a backend without strided arrays)
        check_view_aliases(sample, out, args, ref_out, ref_args)
    if entry.random:   # the same seed repeats the draw on this backend, another seed changes it
        check_seeding(entry, sample, dev, seed, out, ref_out)
    if checks_gradients(entry, dtype):
        _check_gradients(entry, sample, dev, seed, tol)


def _has_kernel(dev, op_name):
    kernels = dev._kernels if dev._kernels is not None else None
    if kernels is None:
        from plugtorch.dispatch.dispatcher import _resolve_kernels
        kernels = _resolve_kernels(dev)
    return kernels.get(op_name) is not None


def _check_gradients(entry, sample, dev, seed, tol):
    cpu = canonical("cpu")
    ref_grads, ref_outs = _grads(entry, sample, cpu, seed, None)  # noqa: F841
    if ref_grads is None:
        return
    grad_outputs = [host(g) for g in ref_outs]
    grads, _ = _grads(entry, sample, dev, seed, grad_outputs)
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        which = f"gradient of input {i}: "
        if (g is None) != (r is None):
            raise Mismatch("gradient", f"{which}{'None' if g is None else 'a tensor'}, cpu gives "
                            f"{'None' if r is None else 'a tensor'}")
        if g is None:
            continue
        if tuple(g.shape) != tuple(r.shape) or g.dtype is not r.dtype:
            raise Mismatch("gradient", f"{which}{g.dtype}{list(g.shape)}, cpu gives {r.dtype}{list(r.shape)}")
        # backward sums grad_output over broadcast dims: loosen as for a reduction of that length
        n = max(1, numel(grads_out_shape(ref_outs)) // max(1, r.numel()))
        rtol, atol = tolerances.for_reduction(r.dtype, n, 4.0 * max(1.0, magnitude(sample)), tol(r.dtype))
        # (backward formulas chain sums and divisions: any of their non-finite values and zero
        # signs may depend on the order of the operations)
        compare_values("gradient", which, host(g), host(r), rtol, atol, overflow_order=n > 1,
                       signed_zeros=False)


def _materialize(sample, dev, grad=False):
    try:
        return sample.materialize(dev, grad=grad)
    except TypeError as e:
        if "not supported on device" in str(e):
            raise _Skip(str(e)) from None
        raise Mismatch("forward", f"building the inputs on {dev} raised TypeError: {e}") from None
    except Exception as e:
        raise _mismatch(e, "forward", f"building the inputs on {dev} raised {type(e).__name__}: {e}") from None


def _grads(entry, sample, device, seed, grad_outputs):
    """Gradients of the float inputs; ``grad_outputs`` None draws them (fixed seed) on cpu."""
    args, kwargs, leaves = _materialize(sample, device, grad=True)
    if not leaves:
        return None, None
    pt.manual_seed(seed)
    try:
        outs = [o for o in flatten(entry.fn(*args, **kwargs)) if isinstance(o, pt.Tensor) and o.requires_grad]
    except Exception as e:
        raise _mismatch(e, "reference" if grad_outputs is None else "gradient",
                        f"the forward call with inputs requiring grad raised {type(e).__name__}: {e}") from None
    if not outs:
        return None, None
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        gos = draw_grad_outputs(rng, outs)
    else:
        gos = [pt.tensor(g, dtype=o.dtype, device=o.device) for g, o in zip(grad_outputs, outs)]
    try:
        grads = pt.autograd.grad(outs, leaves, gos, allow_unused=True)
    except Exception as e:
        if grad_outputs is None:
            raise _mismatch(e, "reference", f"cpu backward raised {type(e).__name__}: {e}") from None
        raise _mismatch(e, "gradient", f"backward raised {type(e).__name__}: {e}\n(cpu computes it)") from None
    return grads, gos


# ---- error inputs and unsupported dtypes ----------------------------------------------------
def check_error_input(entry, ei, dev) -> None:
    """The error input must raise on ``dev`` the exception type it raises on cpu (which must be the
    one the database expects); raises ``Mismatch`` otherwise."""
    cpu = canonical("cpu")
    cpu_err = _raised(entry, ei.sample, cpu)
    if cpu_err is None or type(cpu_err) is not ei.error or (ei.match and not re.search(ei.match, str(cpu_err))):
        got = "no error" if cpu_err is None else f"{type(cpu_err).__name__}: {cpu_err}"
        raise Mismatch("reference", f"the database expects {ei.error.__name__}"
                        f"{f' matching {ei.match!r}' if ei.match else ''} on cpu, got {got}")
    err = _raised(entry, ei.sample, dev)
    wrong_result = _mismatch(err, "", "")
    if wrong_result.check == "kernel result":
        raise wrong_result
    if err is None:
        raise Mismatch("error input", f"returned a result; cpu raises {type(cpu_err).__name__}: {cpu_err}")
    if type(err) is not type(cpu_err):
        raise Mismatch("error input", f"raised {type(err).__name__}: {err}\ncpu raises "
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


