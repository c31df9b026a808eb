"""``plugtorch.utils.checkpoint``: activation checkpointing (trade compute for memory).

``checkpoint(fn, *args, use_reentrant=False)`` runs ``fn`` without recording its graph, keeps only
its inputs, and runs it again during backward to get the gradients, which equal those without
checkpointing. The random state of the forward call is restored for the recomputation
(``preserve_rng_state=True``), so dropout drops the same elements.

Both variants are an ``autograd.Function`` whose backward recomputes:

- ``use_reentrant=True`` (PyTorch's legacy variant) is PyTorch's ``CheckpointFunction``: its
  backward calls ``autograd.backward`` on the recomputed graph, which fills the ``.grad`` of the
  parameters ``fn`` uses; an input must require grad for anything to be recorded.
- ``use_reentrant=False`` also sees, through a dispatch mode during the forward call, every
  tensor requiring grad that ``fn`` reads from outside its arguments (parameters, closures), and
  makes them inputs of the node: gradients flow to them through ``autograd.grad`` and
  ``backward(inputs=...)`` too, keyword arguments are allowed, and no input needs to require grad.

>>> import plugtorch as pt
>>> lin = pt.nn.Linear(3, 3)
>>> x = pt.randn(2, 3, requires_grad=True)
>>> checkpoint(lin, x, use_reentrant=False).sum().backward()
>>> lin.weight.grad.shape
plugtorch.Size([3, 3])
"""
from __future__ import annotations

import contextlib
import warnings

import plugtorch
from plugtorch._tensor import Tensor
from plugtorch.autograd.function import Function
from plugtorch.dispatch.dispatcher import DispatchMode

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointFunction", "detach_variable",
           "check_backward_validity", "noop_context_fn"]


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs):
    """Detached copies of the tensors of the tuple ``inputs`` keeping ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: {type(inputs).__name__}")
    return tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, Tensor) else x for x in inputs)


def check_backward_validity(inputs) -> None:
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=3)


class _RngState:
    """Every default generator's state (cpu and each device used so far) and the autocast
    settings at the forward call, put back for the recomputation inside ``fork_rng``."""

    def __init__(self, preserve: bool):
        from plugtorch import random
        from plugtorch.amp import autocast_mode
        self.preserve = preserve
        self.states = {dev: g.get_state() for dev, g in list(random._defaults.items())} if preserve else {}
        self.autocast = [(dt, autocast_mode.get_autocast_dtype(dt))
                         for dt, on in autocast_mode._state.enabled.items() if on]

    @contextlib.contextmanager
    def restored(self):
        from plugtorch import random
        with contextlib.ExitStack() as stack:
            if self.preserve:
                stack.enter_context(random.fork_rng())
                for dev, state in self.states.items():
                    g = random._defaults.get(dev)
                    if g is None:
                        g = random._defaults[dev] = random._new_default(dev)
                    g.set_state(state)
            for dt, dtype in self.autocast:
                stack.enter_context(plugtorch.amp.autocast(dt, dtype=dtype))
            yield


def _as_tuple(outputs):
    return outputs if isinstance(outputs, tuple) else (outputs,)


class CheckpointFunction(Function):
    """The reentrant variant: ``CheckpointFunction.apply(fn, preserve_rng_state, *args)``."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.rng = _RngState(preserve_rng_state)
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        with plugtorch.no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        with ctx.rng.restored():
            detached = detach_variable(tuple(inputs))
            with plugtorch.enable_grad():
                outputs = _as_tuple(ctx.run_function(*detached))
        pairs = [(o, g) for o, g in zip(outputs, grads) if isinstance(o, Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        plugtorch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(x.grad if isinstance(x, Tensor) else None for x in detached)


class _GradInputs(DispatchMode):
    """Collects, in order of first use, the tensors requiring grad that the ops see: under
    ``no_grad`` nothing computed inside the function requires grad, so these came from outside."""

    def __init__(self, skip_ids):
        self.seen = set(skip_ids)
        self.tensors = []

    def _collect(self, values):
        for v in values:
            if isinstance(v, Tensor):
                if v.requires_grad and id(v) not in self.seen:
                    self.seen.add(id(v))
                    self.tensors.append(v)
            elif isinstance(v, (list, tuple)):
                self._collect(v)

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        self._collect(args)
        if kwargs:
            self._collect(kwargs.values())
        return call(args, kwargs)


class _Recompute(Function):
    """The non-reentrant variant's node: inputs are the call's tensor arguments and the outside
    tensors it read; ``forward`` hands back the outputs computed without a graph."""

    @staticmethod
    def forward(ctx, call, *tensors):
        ctx.call = call
        ctx.save_for_backward(*tensors[:call.n_args])
        return call.outputs

    @staticmethod
    def backward(ctx, *grads):
        call = ctx.call
        create_graph = plugtorch.is_grad_enabled()     # backward(create_graph=True): keep the inputs' history
        args = tuple(ctx.saved_tensors) if create_graph else detach_variable(tuple(ctx.saved_tensors))
        with call.rng.restored(), call.recompute_context:
            with plugtorch.enable_grad():
                outputs = _as_tuple(call.rebuild(args))
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        wrt = [a for a in args if a.requires_grad] + call.outside
        if not pairs or not wrt:
            return (None,) * (1 + len(args) + len(call.outside))
        got = iter(plugtorch.autograd.grad([o for o, _ in pairs], wrt, [g for _, g in pairs],
                                           allow_unused=True, create_graph=create_graph))
        arg_grads = tuple(next(got) if a.requires_grad else None for a in args)
        return (None,) + arg_grads + tuple(got)


class _Call:
    """What the non-reentrant backward needs: the function with its non-tensor arguments, the
    forward outputs, the outside tensors it read and the random state."""

    def __init__(self, function, args, kwargs, preserve, context_fn):
        self.positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_args = len(self.positions)
        self.args, self.kwargs, self.function = list(args), kwargs, function
        forward_context, self.recompute_context = context_fn()
        self.rng = _RngState(preserve)
        mode = _GradInputs(id(args[i]) for i in self.positions)
        with plugtorch.no_grad(), forward_context, mode:
            self.outputs = function(*args, **kwargs)
        self.outside = mode.tensors

    def rebuild(self, tensors):
        args = list(self.args)
        for i, t in zip(self.positions, tensors):
            args[i] = t
        return self.function(*args, **self.kwargs)


def checkpoint(function, *args, use_reentrant: bool | None = None, context_fn=noop_context_fn,
               determinism_check: str = "default", debug: bool = False, early_stop: bool = True, **kwargs):
    """Run ``function(*args, **kwargs)`` without keeping its intermediate tensors; backward runs
    it again (see the module docstring). ``preserve_rng_state`` (default True) replays the
    forward call's random numbers. ``use_reentrant`` should be given, as PyTorch asks: without
    it PyTorch's default (True) is used, with a warning. ``context_fn`` (non-reentrant only)
    returns the two context managers the forward call and the recomputation run in."""
    if use_reentrant is None:
        warnings.warn("plugtorch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got {determinism_check}")
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    call = _Call(function, args, kwargs, preserve, context_fn)
    tensors = [args[i] for i in call.positions] + call.outside
    if not any(t.requires_grad for t in tensors) or not plugtorch.is_grad_enabled():
        return call.outputs
    return _Recompute.apply(call, *tensors)


def checkpoint_sequential(functions, segments, input, use_reentrant: bool | None = None, **kwargs):
    """Run the modules (or functions) ``functions`` in order, split into ``segments`` chunks of
    which all but the last are checkpointed; ``input`` is the one tensor the first takes."""
    if use_reentrant is None:
        warnings.warn("plugtorch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
                      "passed explicitly. use_reentrant=False is recommended, but if you need to preserve the "
                      "current default behavior, you can pass use_reentrant=True. Refer to docs for more "
                      "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    if isinstance(functions, plugtorch.nn.Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
