"""The jit mode (``plugtorch-conformance --jit``): every sample is also traced and compiled on the
backend under test, and each replay must equal the eager call on the same backend.

For each sample of an entry and dtype whose eager call returns on the device (error inputs, and
samples whose eager call raises, are not traced):

* **jit**: ``plugtorch.jit.trace`` records the call on fresh inputs; the traced function replays
  on fresh inputs (the executor: pre-resolved kernels, pointwise chains fused where the backend
  fuses), and its results, and its inputs after the call, must equal the eager call's;
* **jit gradient** (where the eager checks compare gradients: differentiable entries in float32
  and float64): a trace of the call on inputs requiring grad replays, and backward through its
  outputs must give the eager gradients;
* **compile**: ``plugtorch.compile`` called twice on fresh inputs, the second call the replay.
  Where gradients are checked, the compiled function is the whole step, forward and
  ``autograd.grad``, so the backward formulas run inside the graph as in a compiled training
  step;
* **other data** ("jit, other data", "compile, other data"): the traced function and the
  compiled one, made on the sample's inputs, are then called on inputs of the same shapes, dtypes
  and layouts whose values are flipped (each tensor flattened, reversed and reshaped: index
  values stay in range, a symmetric positive-definite matrix stays so; a sample whose values all
  stay the same is not called again), and their results and inputs afterwards must equal the
  eager call's on those. A graph that bakes in something computed from the traced data, or skips
  a check on the data, fails here. A traced replay that stops because the data differs where the
  graph is specialised on it (``TracedDataChanged``: a data-dependent shape, a guarded read)
  passes; where eager raises on the flipped inputs, the replays must raise too. Gradients are
  not compared on other data (the compiled step's forward results are), which keeps this under
  a fifth of the jit mode's time; a module entry's eager call there uses a module built as the
  traced one was (on the sample's own inputs).

"Equal" is bitwise: the replay runs the backend's own kernels (a fused group must round every
step as the unfused kernels do, backends/fusion.py), so only the suite's usual rules relax it:
NaN matches NaN, and a zero's sign is not compared for sums, gradients and the ops that pick
one of equal values. Random ops are compared under the same seed (``manual_seed`` before the
eager call and before the replay), uninitialised memory (``empty``) by shape and dtype only.

Where Python read tensor data while tracing (``item()``, ``bool()``, ``tolist()``), the graph
repeats the read and stops unless the data is the traced data: replayed on the same inputs it
must equal eager like any other. A trace that cannot stand for the call (a ``numpy()`` read, a
read after an in-place write, or a read whose data differs between two calls on the same inputs)
is a **graph break**, counted and listed with the tracer's reason, not a failure; compile,
which runs such a call eagerly, is still compared.

Every sample is traced (and compiled once) before any replays (``EntryJit``), and the runner
traces a batch of entries before replaying them, under ``fusion.deferred_builds()``: a backend
that builds its fused kernels at their first call then builds the whole batch's at once.

>>> import plugtorch
>>> from plugtorch.conformance import opdb
>>> check_entry_jit(opdb.get("neg"), plugtorch.float32, "cpu", max_examples=1).status
'pass'
"""
from __future__ import annotations

import copy
import functools
import gc
import re
import time
import warnings

import numpy as np

import plugtorch as pt
from plugtorch._device import canonical
from plugtorch.backends.fusion import deferred_builds
from plugtorch.dispatch.checked import checking_results

from .compare import Mismatch, compare_values, describe_inputs, flatten, host, snapshot
from .entry import Input
from .runner import (FAIL, GRAPH_BREAK, PASS, UNSUPPORTED, Failure, Result, _guard, _materialize,
                     _mismatch, _Skip, build_samples, checks_gradients, draw_grad_outputs, rerun_command)
from .samples import SampleContext

JIT, COMPILE = "jit", "compile"
UNINITIALISED = frozenset({"empty"})    # entries whose values are whatever memory held
GRAPH_LINES = 40                        # lines of a failing sample's graph shown in its message


def check_entry_jit(entry, dtype, backend_name: str, *, seed: int = 0, max_examples: int = 6,
                    sample: int | None = None) -> Result:
    """The jit checks of one entry and dtype on one backend: a ``Result`` with ``mode="jit"``."""
    return EntryJit(entry, dtype, backend_name, seed=seed, max_examples=max_examples, sample=sample).finish()


class EntryJit:
    """The jit checks of one entry and dtype, in three steps: ``EntryJit(...)`` runs the eager
    calls and traces every sample; ``first_calls()`` makes the compiled functions' first (tracing)
    calls; ``finish()`` replays, compares, and returns the ``Result``. The runner takes a batch
    of entries through each step before the next, so a backend that builds its fused kernels at
    their first call (opencl) builds all of the batch's at once."""

    def __init__(self, entry, dtype, backend_name: str, *, seed: int = 0, max_examples: int = 6,
                 sample: int | None = None):
        self.entry, self.dtype, self.backend_name = entry, dtype, backend_name
        self.seed, self.max_examples = seed, max_examples
        self.started = []      # (sample index, sample, its paused check or its Failure)
        self._first_called = False
        self.res = None
        self.seconds = 0.0
        self._timed(self._trace_all, sample)

    def _timed(self, fn, *args):
        start = time.perf_counter()
        # Each trace collects garbage to find values Python code kept (tracer.py, escapes): a full
        # collection scans the whole heap, 0.1 s in this process, 25x the checks of a small entry.
        # Objects older than this entry are frozen meanwhile, so the collections scan only the new.
        gc.freeze()
        try:
            with checking_results(canonical(self.backend_name).type), warnings.catch_warnings(), \
                    np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                fn(*args)
        finally:
            gc.unfreeze()
        self.seconds += time.perf_counter() - start

    def _trace_all(self, only):
        from plugtorch.backends import get_backend
        entry, dtype, name = self.entry, self.dtype, self.backend_name
        be = get_backend(name)
        dev = canonical(name)
        res = self.res = Result(name, entry.name, dtype.name, PASS, mode=JIT)
        samples, failure = build_samples(entry, SampleContext(dtype, seed=self.seed, max_examples=self.max_examples,
                                                              key=entry.name), be)
        if failure is not None:
            res.status, res.failures = FAIL, [failure]
            return
        res.samples = len(samples)
        if be.unsupported_dtype(dtype, dev.index):
            res.status = UNSUPPORTED     # (the eager checks check the refusal)
            return
        # (under deferred_builds: the replays build the fused kernels of many traces at once)
        for i, s in enumerate(samples):     # the eager calls, the traces, the modules compile runs
            if only is not None and i != only:
                continue
            check = sample_jit(entry, dtype, s, dev, self.seed)
            with deferred_builds():
                failure = _guard(functools.partial(next, check), s)
            self.started.append((i, s, check if failure is None else failure))
            if failure is not None and failure.check not in _NOT_FAILED:
                break           # (the first failing sample is the one reported)

    def first_calls(self):
        """The compiled functions' first (tracing) calls, once: after every module of the batch is
        built (building one starts a new epoch of ``plugtorch.compile``'s keys)."""
        if not self._first_called:
            self._first_called = True
            self._timed(self._first_calls)

    def _first_calls(self):
        for k, (i, s, check) in enumerate(self.started):
            if not isinstance(check, Failure):
                with deferred_builds():
                    failure = _guard(functools.partial(next, check), s)
                if failure is not None:
                    self.started[k] = (i, s, failure)
                    if failure.check not in _NOT_FAILED:
                        del self.started[k + 1:]
                        break

    def finish(self) -> Result:
        """Replay and compare the traced samples (once); the entry's ``Result``."""
        self.first_calls()
        if self.started:
            self._timed(self._replay_all)
        res = self.res
        res.seconds = self.seconds
        for f in res.failures:
            if f.index is not None:
                f.rerun = rerun_command(self.backend_name, self.entry.name, self.dtype.name, f.index, self.seed,
                                        self.max_examples, jit=True)
        return res

    def _replay_all(self) -> bool:
        """Replay the samples traced so far, up to the first failure; whether there was one."""
        res, started, self.started = self.res, self.started, []
        for i, s, check in started:
            breaks = []
            failure = check if isinstance(check, Failure) else _guard(functools.partial(_finish, check, breaks), s)
            if failure is None:
                res.breaks += [(i, reason) for reason in dict.fromkeys(breaks)]
                continue
            failure.index = i
            if failure.check in _NOT_FAILED:
                res.skipped += 1
                continue
            failure.message += describe_inputs(s)
            res.failures.append(failure)
            break
        res.status = FAIL if res.failures else GRAPH_BREAK if res.breaks else PASS
        return bool(res.failures)


_NOT_FAILED = ("skipped", "reference")     # a sample's check that stops it without a failure


def _finish(check, breaks):
    try:
        next(check)
    except StopIteration as done:
        breaks.extend(done.value)
        return
    raise RuntimeError("a sample's jit check paused twice")


# ---- one sample ----------------------------------------------------------------------------
def check_sample_jit(entry, dtype, sample, dev, seed=0) -> list:
    """Trace, replay and compile one sample on ``dev`` against its eager call there; raises
    ``Mismatch`` at the first difference, ``_Skip`` when the eager call raises. Returns the
    graph breaks the tracer recorded (their reasons; empty when the call was captured)."""
    check = sample_jit(entry, dtype, sample, dev, seed)
    next(check)
    next(check)
    breaks = []
    _finish(check, breaks)
    return breaks


def sample_jit(entry, dtype, sample, dev, seed=0):
    """``check_sample_jit`` as a generator paused between the traces and the replays: the first
    ``next`` runs the eager calls and the traces and makes the compiled function, the second its
    first (tracing) call; the third replays and compares, and stops with the graph breaks.
    (Building a module starts a new epoch of ``plugtorch.compile``'s keys: between a compiled
    function's first and second calls no module may be built.)"""
    ref = _eager(entry, sample, dev, seed)
    form = _form(entry, sample, dev)
    traced, graph = form.trace(seed, grad=False)
    grads = gtraced = None
    if checks_gradients(entry, dtype):
        grads = _eager_grads(entry, sample, dev, seed)
    if grads is not None and not graph.breaks:
        gtraced, ggraph = form.trace(seed, grad=True)
    compiled, between = form.compile(None if grads is None else grads.gos)
    other = flipped(sample) if OTHER_DATA else None
    eager_other = None if other is None else form.eager_fn()
    yield            # (a module entry builds every sample's modules before any compiled call)
    between(0)       # the first call traces
    if grads is None:
        _replay(compiled, sample, dev, seed, COMPILE)
    else:
        _replay_step(compiled, sample, dev, seed)
    recompiles = compiled.counters["recompiles"]
    yield

    breaks = []
    if graph.breaks:
        breaks.append(_break_reason(graph))
    else:
        try:
            got = _replay(traced, sample, dev, seed, JIT)
        except pt.jit.TracedDataChanged as e:
            breaks.append(_data_changed(e))
        else:
            _compare(JIT, entry, sample, got, ref, _graph_text(graph))
    if gtraced is not None:
        if ggraph.breaks:
            breaks.append(_break_reason(ggraph))
        else:
            try:
                replayed = _replay_grads(gtraced, sample, dev, seed, grads.gos)
            except pt.jit.TracedDataChanged as e:
                breaks.append(_data_changed(e))
            else:
                _compare_grads(JIT, *replayed, grads, _graph_text(ggraph, "op"))
    between(1)       # the second replays
    if grads is None:
        got = _replay(compiled, sample, dev, seed, COMPILE)
        _compare(COMPILE, entry, sample, got, ref, _compiled_text(compiled))
    else:
        out, new_grads, leaves = _replay_step(compiled, sample, dev, seed)
        _compare(COMPILE, entry, sample, out, grads.call, _compiled_text(compiled))
        _compare_grads(COMPILE, new_grads, leaves, grads, _compiled_text(compiled))
    if compiled.counters["recompiles"] != recompiles:    # (something between the calls changed its key)
        if not any(e.variants for e in compiled._cache.values()):
            raise Mismatch(COMPILE, "the second call compiled a new graph instead of replaying the first's")
        # (the graph stopped at a read whose data differs between two calls on the same inputs)
        breaks.append("a read of tensor data that differs between two calls on the same inputs, in the compiled "
                      "call")
    states = {e.state: e.reason for e in compiled._cache.values()}
    if "eager" in states or "split" in states:
        # (a split -- plugtorch.compiler.resume: a graph of the statements before a read, the rest as
        # Python -- is a break too; its results were compared above)
        if not breaks:
            where = "the compiled call" if grads is None else "the compiled forward and backward"
            reason = _site_free(states.get("eager", states.get("split")).split(": ", 1)[-1])  # "Python reads ... at"
            breaks.append(re.sub(r"Python reads tensor data \((\w+)\)", r"\1()", reason) + f" in {where}")
    elif "compiled" not in states:
        raise Mismatch(COMPILE, "the second call did not replay a graph: the compiled function's cache holds "
                                f"{states} (a retrace: {states.get('retrace', '')})")
    if other is not None:
        _check_other_data(entry, other, dev, seed, form, eager_other, None if graph.breaks else traced, graph,
                          compiled, grads is not None, between)
    return breaks


def _form(entry, sample, dev):
    from .opdb.modules import run_module
    return _ModuleForm(sample, dev) if entry.fn is run_module else _FunctionForm(entry.fn, sample, dev)


class _FunctionForm:
    """An op's (or optimizer's) entry function, traced and compiled whole."""

    def __init__(self, fn, sample, dev):
        self.fn, self.sample, self.dev = fn, sample, dev

    def trace(self, seed, grad):
        """(a callable like the entry's function running the traced graph, the graph)."""
        args, kwargs, _ = _materialize(self.sample, self.dev, grad=grad)
        pt.manual_seed(seed)
        traced = _traced(self.fn, args, kwargs)
        return traced, traced.graph

    def compile(self, gos):
        """(the compiled entry function, or the whole step with ``gos``; a function to call
        before each call)."""
        return pt.compile(self.fn if gos is None else _step(self.fn, gos)), lambda call: None

    def eager_fn(self):
        """The function whose eager call the replays on other data must equal."""
        return self.fn

    def reset(self):
        """The traced functions' state back to before their first replay (none here)."""


class _ModuleForm:
    """A module entry: the module is built eagerly (as ``run_module`` builds it) and its forward
    traced or compiled, as a user traces a model; ``run_module`` then runs that form."""

    def __init__(self, sample, dev):
        self.sample, self.dev = sample, dev
        self._traced_modules = []     # (module, its buffers when traced): for reset()

    def _build(self):
        from .opdb.modules import build_module
        args, kwargs, _ = _materialize(self.sample, self.dev)
        kwargs = dict(kwargs)
        m = build_module(kwargs.pop("module"), self.dev, *args, **kwargs)
        with pt.no_grad():
            state = [b.clone() for b in m.buffers()]
        return m, state

    @staticmethod
    def _restore(m, state):
        """Buffers back to their values before the tracing call (which ran the forward once:
        BatchNorm's running statistics), written in place: the graph captured these tensors."""
        with pt.no_grad():
            for b, v in zip(m.buffers(), state):
                b.copy_(v)

    def trace(self, seed, grad):
        from .opdb.modules import run_module
        m, state = self._build()
        args, kwargs, _ = _materialize(self.sample, self.dev, grad=grad)
        kwargs = {k: v for k, v in kwargs.items() if k != "module"}
        traced = _traced(m, args, kwargs)
        self._restore(m, state)
        self._traced_modules.append((m, state))
        return functools.partial(run_module, _instance=traced), traced.graph

    def compile(self, gos):
        from .opdb.modules import run_module
        m, state = self._build()
        fn = functools.partial(run_module, _instance=m)
        return pt.compile(fn if gos is None else _step(fn, gos)), lambda call: self._restore(m, state)

    def eager_fn(self):
        """``run_module`` on a module built as the traced ones were, on the sample's own inputs
        (a warmed-up module's buffers follow them), so that only the call's inputs differ."""
        from .opdb.modules import run_module
        return functools.partial(run_module, _instance=self._build()[0])

    def reset(self):
        """The traced modules' buffers back to their values when traced (the replays since ran
        the forward: BatchNorm's running statistics)."""
        for m, state in self._traced_modules:
            self._restore(m, state)


def _traced(fn, args, kwargs):
    try:
        with warnings.catch_warnings(record=True):    # (trace turns TracerWarning on: its breaks are counted)
            return pt.jit.trace(fn, args, check_trace=False, example_kwarg_inputs=kwargs)
    except Exception as e:
        raise _mismatch(e, JIT, f"tracing raised {type(e).__name__}: {e}\n(the eager call returns)") from None


class _Call:
    """What a call left: its result, its tensor arguments afterwards, and which results are inputs."""

    def __init__(self, out, args, kwargs):
        self.out = out
        self.after = snapshot(args, kwargs)
        tensors = [t for t in flatten(list(args) + list(kwargs.values())) if isinstance(t, pt.Tensor)]
        self.aliases = [next((k for k, t in enumerate(tensors) if o is t), None) if isinstance(o, pt.Tensor) else None
                        for o in flatten(out)]


def _eager(entry, sample, dev, seed) -> _Call:
    args, kwargs, _ = _materialize(sample, dev)
    pt.manual_seed(seed)
    try:
        out = entry.fn(*args, **kwargs)
    except Exception as e:    # an error input, or a failure the eager checks report
        raise _Skip(f"the eager call raises {type(e).__name__}: {e}") from None
    return _Call(out, args, kwargs)


def _replay(fn, sample, dev, seed, check) -> _Call:
    args, kwargs, _ = _materialize(sample, dev)
    pt.manual_seed(seed)
    try:
        out = fn(*args, **kwargs)
    except pt.jit.TracedDataChanged:
        raise
    except Exception as e:
        what = "the replay" if check == JIT else "the compiled call"
        raise _mismatch(e, check, f"{what} raised {type(e).__name__}: {e}\n(the eager call returns)") from None
    return _Call(out, args, kwargs)


def _break_reason(graph) -> str:
    what, site = graph.breaks[0]
    return _site_free(f"{what}() at {site or 'an unknown line'}")


def _data_changed(e) -> str:
    """A replay on the same inputs found other data where the graph is specialised on the traced
    data (the entry's function keeps state between calls: LBFGS's history): not replayable."""
    m = re.search(r"\((\w+)\(\) at (\S+)\)", str(e))
    where = f"{m.group(1)}() at {m.group(2)}" if m else "a data-dependent shape"
    return _site_free(f"{where}, whose data differs between two calls on the same inputs")


def _site_free(reason: str) -> str:
    """``reason`` without a source line in this file (which calls the op: the op itself read data)."""
    return re.sub(r" at (\S*/)?jit_mode\.py:\d+", "", reason)


# ---- other data ----------------------------------------------------------------------------
# Whether each sample is also called on flipped data (the docstring). Measured on cpu under load,
# inside one run: 13-14% of the jit mode's checks' time (about 9 s of 66).
OTHER_DATA = True
OTHER = ", other data"      # appended to the check's name
FLIPPED = ("\n(on the sample's inputs with their values flipped: each tensor flattened, reversed and "
           "reshaped; the inputs below are the sample's own)")


def flipped(sample):
    """``sample`` with each input's values flattened, reversed and reshaped: the same shapes,
    dtypes and layouts, index values still in range, a symmetric positive-definite matrix still
    one. None when no value changes (0-d and constant inputs)."""
    changed = False

    def flip(v):
        nonlocal changed
        if isinstance(v, Input):
            w = copy.copy(v)
            w.values = v.values.reshape(-1)[::-1].reshape(v.values.shape).copy()
            changed = changed or w.values.tobytes() != v.values.tobytes()     # (bits: NaN, -0.0 and all)
            return w
        if isinstance(v, (list, tuple)):
            return type(v)(flip(x) for x in v)
        if isinstance(v, dict):
            return {k: flip(x) for k, x in v.items()}
        return v
    other = copy.copy(sample)
    other.args, other.kwargs = flip(sample.args), flip(sample.kwargs)
    return other if changed else None


def _check_other_data(entry, other, dev, seed, form, eager_fn, traced, graph, compiled, step, between):
    """The traced function (None: a graph break; ``graph`` its graph) and the compiled one (``step``: the compiled
    forward and backward) called on ``other`` (``flipped``), against the eager call of
    ``eager_fn`` (``form.eager_fn()``, made before the compiled function's first call) on it:
    forward results and inputs afterwards; raises ``Mismatch`` at the first difference."""
    args, kwargs, _ = _materialize(other, dev)
    pt.manual_seed(seed)
    try:
        ref, raised = _Call(eager_fn(*args, **kwargs), args, kwargs), None
    except Exception as e:
        ref, raised = None, e
    form.reset()
    if raised is not None:    # the replays must raise too (a check on the data, as eager's)
        for check, call in ((JIT, traced), (COMPILE, None if step else compiled)):
            if call is not None:
                _must_raise(check, raised, call, other, dev)
        return
    if traced is not None:
        try:
            got = _replay(traced, other, dev, seed, JIT + OTHER)
        except pt.jit.TracedDataChanged:
            pass     # the replay stopped where the graph follows the traced data: a refusal, not a wrong value
        else:
            _compare(JIT + OTHER, entry, other, got, ref, _Later(lambda: FLIPPED + str(_graph_text(graph))))
    between(2)
    got = _replay_step(compiled, other, dev, seed)[0] if step else _replay(compiled, other, dev, seed, COMPILE + OTHER)
    _compare(COMPILE + OTHER, entry, other, got, ref, _Later(lambda: FLIPPED + str(_compiled_text(compiled))))


def _must_raise(check, raised, call, other, dev):
    args, kwargs, _ = _materialize(other, dev)
    try:
        call(*args, **kwargs)
    except Exception:     # (TracedDataChanged included: the replay stopped)
        return
    raise Mismatch(check + OTHER, f"returned, where eager raises {type(raised).__name__}: {raised}{FLIPPED}")


# ---- gradients -----------------------------------------------------------------------------
class _Grads:
    """The eager gradients of a sample: the call's result, the grad_outputs used, the gradients."""

    def __init__(self, call, gos, grads):
        self.call, self.gos, self.grads = call, gos, grads


def _requiring_grad(out):
    return [o for o in flatten(out) if isinstance(o, pt.Tensor) and o.requires_grad]


def _eager_grads(entry, sample, dev, seed):
    """The eager gradients (grad_outputs drawn as the eager checks draw them); None when the
    sample has no float inputs or outputs requiring grad, or eager backward raises."""
    args, kwargs, leaves = _materialize(sample, dev, grad=True)
    if not leaves:
        return None
    pt.manual_seed(seed)
    try:
        out = entry.fn(*args, **kwargs)
        outs = _requiring_grad(out)
        if not outs:
            return None
        rng = np.random.default_rng(seed)
        gos = draw_grad_outputs(rng, outs)
        grads = pt.autograd.grad(outs, leaves, gos, allow_unused=True)
    except Exception:     # (the eager checks report it)
        return None
    return _Grads(_Call(out, args, kwargs), gos, grads)


def _replay_grads(traced, sample, dev, seed, gos):
    """Replay ``traced`` on fresh inputs requiring grad; backward through its outputs."""
    args, kwargs, leaves = _materialize(sample, dev, grad=True)
    pt.manual_seed(seed)
    try:
        outs = _requiring_grad(traced(*args, **kwargs))
        if len(outs) != len(gos):
            raise Mismatch("jit gradient", f"{len(outs)} outputs of the replay require grad, {len(gos)} of the "
                                           "eager call's")
        return pt.autograd.grad(outs, leaves, gos, allow_unused=True), leaves
    except (Mismatch, pt.jit.TracedDataChanged):
        raise
    except Exception as e:
        raise _mismatch(e, "jit gradient", f"backward through the replay raised {type(e).__name__}: {e}\n(eager "
                                           "backward returns)") from None


def _step(fn, gos):
    """``fn`` and the gradients of its float inputs: the function ``compile`` compiles, whole."""
    def step(*args, **kwargs):
        leaves = [t for t in flatten(list(args) + list(kwargs.values())) if isinstance(t, pt.Tensor) and t.requires_grad]
        out = fn(*args, **kwargs)
        return out, pt.autograd.grad(_requiring_grad(out), leaves, gos, allow_unused=True)
    step.__name__ = getattr(fn, "__name__", "step") + "_and_backward"
    return step


def _replay_step(compiled, sample, dev, seed):
    args, kwargs, leaves = _materialize(sample, dev, grad=True)
    pt.manual_seed(seed)
    try:
        out, grads = compiled(*args, **kwargs)
    except Exception as e:
        raise _mismatch(e, COMPILE, f"the compiled forward and backward raised {type(e).__name__}: {e}\n(eager "
                                    "returns)") from None
    return _Call(out, args, kwargs), grads, leaves


def _compare_grads(check, grads, leaves, ref, graph_text):
    kind = f"{check} gradient"
    for i, (g, r) in enumerate(zip(grads, ref.grads)):
        which = f"gradient of input {i}: "
        if (g is None) != (r is None):
            raise Mismatch(kind, f"{which}{'None' if g is None else 'a tensor'}, eager gives "
                                 f"{'None' if r is None else 'a tensor'}{graph_text}")
        if g is None:
            continue
        _same_tensor(kind, which, g, r, signed_zeros=False, graph_text=graph_text)


# ---- comparing -----------------------------------------------------------------------------
def _compare(check, entry, sample, got: _Call, ref: _Call, graph_text):
    outs, refs = flatten(got.out), flatten(ref.out)
    if len(outs) != len(refs) or any(isinstance(a, pt.Tensor) != isinstance(b, pt.Tensor) for a, b in zip(outs, refs)):
        raise Mismatch(check, f"returned {len(outs)} values, eager returns {len(refs)} ({_kinds(outs)} against "
                              f"{_kinds(refs)}){graph_text}")
    signed = (sample.reduction_length or 0) <= 1 and getattr(entry, "zero_sign", True)
    for i, (a, b) in enumerate(zip(outs, refs)):
        which = "" if len(outs) == 1 else f"output {i}: "
        if not isinstance(a, pt.Tensor):
            if a != b and not (a != a and b != b):
                raise Mismatch(check, f"{which}returned {a!r}, eager returns {b!r}{graph_text}")
            continue
        _same_tensor(check, which, a, b, signed_zeros=signed, graph_text=graph_text,
                     values=entry.name not in UNINITIALISED)
    for i, (a, k) in enumerate(zip(got.aliases, ref.aliases)):
        if k is not None and a != k:    # (the other way round is allowed: x.to(x.device) may return x)
            raise Mismatch(check, f"output {i} is a new tensor, but eager returns its tensor argument {k} itself (an "
                                  f"in-place op returns its input){graph_text}")
    for k, (x, y) in enumerate(zip(got.after, ref.after)):
        if x.shape != y.shape or x.dtype != y.dtype or x.size and not _bitwise_or_nan(x, y):
            raise Mismatch(check, f"tensor argument {k} after the call differs from eager's (an in-place write "
                                  f"missing, or one too many){graph_text}")


def _same_tensor(check, which, a, b, signed_zeros, graph_text, values=True):
    if tuple(a.shape) != tuple(b.shape) or a.dtype is not b.dtype or a.device != b.device:
        raise Mismatch(check, f"{which}{a.dtype}{list(a.shape)} on {a.device}, eager gives {b.dtype}{list(b.shape)} "
                              f"on {b.device}{graph_text}")
    x, y = host(a), host(b)
    if type(a._data) is not type(b._data) or x.dtype != y.dtype:
        raise Mismatch(check, f"{which}the result's array is a {type(a._data).__name__} of {x.dtype}, eager's a "
                              f"{type(b._data).__name__} of {y.dtype}{graph_text}")
    if values:
        try:
            compare_values(check, which, x, y, 0.0, 0.0, signed_zeros=signed_zeros)
        except Mismatch as m:
            m.message = m.message.replace("cpu", "eager") + graph_text
            raise


def _bitwise_or_nan(x, y) -> bool:
    if x.dtype.kind == "c":   # part by part
        return _bitwise_or_nan(x.real, y.real) and _bitwise_or_nan(x.imag, y.imag)
    if x.dtype.kind == "f" or str(x.dtype) == "bfloat16":
        a, b = x.astype(np.float64), y.astype(np.float64)
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return bool(np.array_equal(x, y))


def _kinds(values) -> str:
    return "[" + ", ".join("Tensor" if isinstance(v, pt.Tensor) else type(v).__name__ for v in values) + "]"


class _Later:
    """Text made only when a failure message shows it (formatting a graph costs more than a
    small sample's checks)."""

    def __init__(self, make):
        self._make = make

    def __str__(self):
        return self._make()

    def __format__(self, spec):
        return format(self._make(), spec)

    def __radd__(self, other):
        return other + self._make()


def _graph_text(graph, level="kernel", what=None):
    def make():
        lines = graph.format(level).splitlines()
        if len(lines) > GRAPH_LINES:
            lines = lines[:GRAPH_LINES - 1] + [f"  ... ({len(lines) - GRAPH_LINES + 1} more lines)"]
        return f"\nthe {what or ('traced' if level == 'kernel' else 'op-level')} graph:\n  " + "\n  ".join(lines)
    return _Later(make)


def _compiled_text(compiled):
    graphs = [e.traced.graph for e in compiled._cache.values() if e.traced is not None]
    if graphs:
        return _graph_text(graphs[-1], what="compiled")
    states = ", ".join(f"{e.state}" + (f" ({e.reason})" if e.reason else "") for e in compiled._cache.values())
    return f"\n(compile made no graph: {states or 'nothing cached'})"
