"""``plugtorch.jit.trace`` and the traced callables it returns."""
from __future__ import annotations

import warnings

from plugtorch._tensor import Tensor
from plugtorch.dispatch import dispatcher as D
from plugtorch.jit import passes
from plugtorch.jit.executor import DataMiss, Executable, GuardFailure, InputsAlias, ShapeMiss, run_with_autograd
from plugtorch.jit.ir import CAPTURE, INPUT, NODE, values_in
from plugtorch.jit.tracer import Tracer, TracerWarning, flatten_tensors, rebuild
from plugtorch.jit.tracer import _tensors_in as _flat


def trace_call(fn, args, kwargs=None, warn=True):
    """Run ``fn(*args, **kwargs)`` under the tracer: (graph, result, tensors, spec)."""
    kwargs = kwargs or {}
    tensors, spec = flatten_tensors(args, kwargs)
    tr = Tracer(warn=warn)
    for i, t in enumerate(tensors):
        tr.add_input(t, i)
    with tr:
        res = fn(*args, **kwargs)
    graph = tr.finish(res)
    graph.input_spec = spec
    if tr.read_numbers:
        from plugtorch.jit.tracer import plain_numbers
        res = plain_numbers(res)
    return graph, res, tensors, spec


def spec_key(spec) -> tuple:
    """A call's (args spec, kwargs spec) with tensor positions only: two calls match if equal."""
    return tuple(_spec_shape(s) for s in spec)


def _spec_shape(spec):
    kind, payload = spec
    if kind == "T":
        return ("T",)
    if kind in ("L", "U"):
        return (kind, tuple(_spec_shape(s) for s in payload))
    if kind == "D":
        return ("D", tuple((k, _spec_shape(s)) for k, s in payload.items()))
    return ("C", _typed(payload))


def _typed(x):
    # a constant with its type: 2, 2.0 and True are equal (and hash alike) as Python values, but
    # `x * 2` keeps an int tensor int and `x * 2.0` makes it float, so they must not share a graph
    c = x.__class__
    if c is tuple or c is list:
        return (c.__name__,) + tuple(_typed(y) for y in x)
    if c is float:      # (-0.0 == 0.0 too)
        return ("float", x.hex())
    return (c.__name__, _hashable(x))


def _hashable(x):
    try:
        hash(x)
        return x
    except TypeError:
        return repr(x)


def build(graph, name, optimize=True, rg_guard=None):
    stats = passes.optimize(graph) if optimize else {}
    exe = Executable(graph, name=name, rg_guard=rg_guard)
    exe.stats = stats
    return exe


def _all_tensors(args) -> bool:
    for a in args:   # (a loop: cheaper than all() over a generator, for a call's few arguments)
        if not isinstance(a, Tensor):
            return False
    return True


def _needs_autograd(graph, tensors, rg_captures) -> bool:
    if graph.backward_ran:
        return False
    if not D.grad_state.enabled:
        # (ops the program made under enable_grad() inside the call record autograd even so)
        return graph.enables_grad
    for t in tensors:
        if t._rg:
            return True
    for t in rg_captures:
        if t._rg:
            return True
    return False


class TracedFunction:
    """What ``jit.trace`` returns for a function: call it like the function."""

    def __init__(self, graph, name="forward", example_outputs=None, rg_guard=None):
        self.__name__ = name
        self._graph = graph
        self._spec_key = spec_key(graph.input_spec) if graph.input_spec is not None else None
        self._exe = build(graph, name, rg_guard=rg_guard)
        # the captured tensors that may require grad (checked at each call: one frozen or unfrozen
        # after tracing decides whether the call replays through autograd)
        self._rg_captures = [v.tensor for v in graph.captures if v.kind == CAPTURE and
                             (v.tensor._rg or v.tensor._dtype.is_floating_point or v.tensor._dtype.is_complex)]
        self._plain = self._all_tensor_spec
        self._replay = self._exe._fn

    @property
    def graph(self):
        """The graph in SSA form, each value with its shape, dtype and device (kernel level)."""
        return self._graph

    @property
    def inlined_graph(self):
        return self._graph

    @property
    def code(self) -> str:
        return self._graph.code()

    def graph_for(self, level="op") -> str:
        return self._graph.format(level)

    def __call__(self, *args, **kwargs):
        g = self._graph
        if not kwargs and self._plain and len(args) == len(g.inputs) and _all_tensors(args):
            tensors = args
        else:
            tensors, spec = flatten_tensors(args, kwargs)
            if spec_key(spec) != self._spec_key or len(tensors) != len(g.inputs):
                raise RuntimeError(f"traced function '{self.__name__}' was traced with arguments structured as "
                                   f"{_describe_spec(g.input_spec[0])} and is called with {_describe_spec(spec[0])}; "
                                   "a trace fixes its non-tensor arguments: trace it again for these, or use "
                                   "plugtorch.compile")
        try:
            if not (D._modes and D._stack.modes) and not _needs_autograd(g, tensors, self._rg_captures):
                return self._replay(tensors)    # _call_tensors' usual outcome, two calls shorter
            return self._call_tensors(tensors)
        except GuardFailure as e:
            pos = e.args[0]
            raise RuntimeError(f"traced function '{self.__name__}': {self._exe.explain_mismatch(pos, tensors)}. A "
                               "traced graph runs only on inputs like its example inputs: trace it again with "
                               "these, or use plugtorch.compile (which traces once per input signature)") from None
        except InputsAlias as e:
            raise RuntimeError(f"traced function '{self.__name__}': {e}. Pass separate tensors (clone one), or use "
                               "plugtorch.compile, which runs such a call eagerly") from None
        except DataMiss as e:
            what = "shape" if isinstance(e, ShapeMiss) else "data"
            raise TracedDataChanged(f"traced function '{self.__name__}': {e}. Trace it again with inputs giving this "
                               f"{what}, or use plugtorch.compile (which traces again when it changes)") from None

    def _call_tensors(self, tensors):
        g = self._graph
        if D._modes and D._stack.modes:
            # a dispatch mode (a tracer, autocast, the profiler) must see the ops: run them
            # through the dispatcher instead of replaying kernels behind its back
            return run_with_autograd(g, tensors)
        if _needs_autograd(g, tensors, self._rg_captures):
            return run_with_autograd(g, tensors)
        return self._exe(tensors)

    @property
    def _all_tensor_spec(self):
        spec = self._graph.input_spec
        if spec is None:
            return False
        (ka, pa), (kk, pk) = spec
        return not pk and all(s[0] == "T" for s in pa)

    def save(self, f):
        from plugtorch.jit.serialize import save
        save(self, f)


class TracedDataChanged(RuntimeError):
    """A traced function was called on data that differs, where its graph is specialised on the
    traced data (a data-dependent shape, a tensor Python read): the replay stopped before any
    write it could not undo."""


def _describe_spec(spec) -> str:
    kind, payload = spec
    if kind == "T":
        return "Tensor"
    if kind in ("L", "U"):
        inner = ", ".join(_describe_spec(s) for s in payload)
        return f"[{inner}]" if kind == "L" else f"({inner})"
    if kind == "D":
        return "{" + ", ".join(f"{k}: {_describe_spec(s)}" for k, s in payload.items()) + "}"
    return repr(payload)


class TracedModule:
    """What ``jit.trace`` returns for a Module: calls run the graph; the original module's
    parameters and buffers are shared (``state_dict``, ``parameters()``, ``.to()``, ``.eval()``)."""

    def __init__(self, module, fn: TracedFunction, example_inputs):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_example", example_inputs)
        object.__setattr__(self, "_methods", {})    # name -> (TracedFunction, example): trace_module's others

    def __call__(self, *args, **kwargs):
        if self._fn is None:
            raise RuntimeError(f"{self!r} has no traced forward: trace_module traced only "
                               f"{', '.join(self._methods)}; call those, or trace 'forward' too")
        return self._fn(*args, **kwargs)

    forward = __call__

    @property
    def graph(self):
        return self._fn.graph

    @property
    def code(self):
        return self._fn.code

    @property
    def original_module(self):
        return self._module

    def __getattr__(self, name):
        traced = self._methods.get(name)
        if traced is not None:
            return traced[0]
        return getattr(self._module, name)

    def __setattr__(self, name, value):
        setattr(self._module, name, value)

    def to(self, *args, **kwargs):
        """Move the parameters and buffers, then trace again on the example inputs moved alike."""
        self._module.to(*args, **kwargs)
        dev = next((p.device for p in self._module.parameters()), None)
        ex = tuple(a.to(dev) if isinstance(a, Tensor) and dev is not None else a for a in self._example)
        object.__setattr__(self, "_example", ex)
        self._methods.update({name: (traced, tuple(a.to(dev) if isinstance(a, Tensor) and dev is not None else a
                                                   for a in example))
                              for name, (traced, example) in self._methods.items()})
        self._retrace()
        return self

    def train(self, mode=True):
        self._module.train(mode)
        self._retrace()
        return self

    def _retrace(self):
        if self._fn is not None:
            object.__setattr__(self, "_fn", _trace_fn(self._module, self._example, check_trace=False))
        for name, (_, example) in self._methods.items():
            self._methods[name] = (_trace_fn(getattr(self._module, name), example, check_trace=False), example)

    def eval(self):
        return self.train(False)

    def save(self, f):
        from plugtorch.jit.serialize import save
        save(self, f)

    def __repr__(self):
        return f"TracedModule({self._module.__class__.__name__})"


def _trace_fn(fn, example_inputs, check_trace=True, check_tolerance=1e-5, kwargs=None):
    with warnings.catch_warnings():
        warnings.simplefilter("default", TracerWarning)
        graph, res, tensors, spec = trace_call(fn, example_inputs, kwargs)
    for site in graph.escapes:
        warnings.warn(f"a value computed while tracing is kept by Python code outside the graph ({site}): "
                      "replaying the graph will not update it", TracerWarning, stacklevel=3)
    name = getattr(fn, "__name__", None) or type(fn).__name__
    if graph.outside_history:
        raise RuntimeError(f"plugtorch.jit.trace: the traced call runs backward through autograd history made before "
                           f"it ({graph.outside_history}): a replay would reuse the values that history saved when "
                           "traced. Trace the forward that made it too, or pass the inputs detached")
    traced = TracedFunction(graph, name=name)
    aliased = traced._exe.aliasing(tensors) if traced._exe.aliasing is not None else None
    if aliased is not None:
        i, j = aliased
        other = f"input {j}" if j >= 0 else "a tensor the call writes into"
        raise RuntimeError(f"plugtorch.jit.trace: example input {i} and {other} share memory and the traced call "
                           f"writes into one of them; the graph cannot follow that aliasing: trace with separate "
                           "tensors (clone one)")
    if check_trace and not graph.breaks:
        _check(traced, tensors, res, graph, check_tolerance)
    return traced


def _check(traced, tensors, expected, graph, tol):
    """Replay the graph on the example inputs and compare with the traced call's own results
    (skipped for graphs that write their inputs or parameters, or draw random numbers)."""
    if any(n.writes or "random" in n.op.tags for n in graph.nodes):
        return
    import plugtorch
    with plugtorch.no_grad():
        got = traced._exe(list(tensors))
    exp = [t for t in _flat(expected)]
    for k, (a, b) in enumerate(zip(_flat(got), exp)):
        if not isinstance(a, Tensor) or not isinstance(b, Tensor):
            continue
        if a.shape != b.shape or a.dtype != b.dtype or not plugtorch.allclose(
                _widened(a), _widened(b), rtol=tol, atol=tol, equal_nan=True):
            warnings.warn(f"Output nr {k + 1}. of the traced function does not match the corresponding output "
                          "of the Python function: the trace is not a faithful record of the function (it may "
                          "depend on data or Python state)", TracerWarning, stacklevel=4)


def _widened(t):
    # float64 (complex128 for a complex tensor: .double() would drop its imaginary part) on cpu
    t = t.detach().cpu()
    return t.cdouble() if t.is_complex() else t.double()


def trace(func, example_inputs=None, check_trace=True, check_tolerance=1e-5, *, example_kwarg_inputs=None,
          strict=True):
    """Trace ``func`` (a function or a Module) on ``example_inputs`` into a static graph.

    Returns a callable (for a Module, a module-like object sharing its parameters) that replays
    the recorded kernels without the dispatcher. Python control flow is fixed at its traced
    path: data-dependent branches warn with TracerWarning. Calls with tensors of another shape,
    dtype, device or layout raise RuntimeError.
    """
    from plugtorch.nn.modules.module import Module
    if example_inputs is None:
        example_inputs = ()
    if isinstance(example_inputs, Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    if isinstance(func, Module):
        fn = _trace_fn(func, example_inputs, check_trace, check_tolerance, example_kwarg_inputs)
        return TracedModule(func, fn, example_inputs)
    if not callable(func):
        raise TypeError(f"plugtorch.jit.trace(): expected a function or a Module, got {type(func).__name__}")
    return _trace_fn(func, example_inputs, check_trace, check_tolerance, example_kwarg_inputs)
