"""``plugtorch.jit.freeze``, ``optimize_for_inference`` and ``trace_module``, as ``torch.jit``.

Freezing clones a traced module in eval mode with its parameters and buffers turned into
constants (no gradient flows to them, and later changes to the original module do not reach the
frozen one), then traces the clone again on the example inputs.

>>> import plugtorch as pt
>>> lin = pt.nn.Linear(3, 2)
>>> frozen = pt.jit.freeze(pt.jit.trace(lin, pt.ones(1, 3)).eval())
>>> bool(pt.equal(frozen(pt.ones(1, 3)), lin(pt.ones(1, 3)).detach()))
True
"""
from __future__ import annotations

import copy

from plugtorch.jit.api import TracedModule, _trace_fn


def freeze(mod, preserved_attrs=None, optimize_numerics: bool = True):
    """A frozen copy of the traced module ``mod`` (which must be in eval mode): its parameters
    and buffers are constants of the graph. ``preserved_attrs`` stay readable and settable
    (every attribute does: the clone is a plain module)."""
    if not isinstance(mod, TracedModule):
        raise RuntimeError("Freezing expects a ScriptModule as input. Please use plugtorch.jit.trace to trace "
                           f"your 'nn.Module' (got {type(mod).__name__}).")
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. Please call .eval() "
                           "on your module before freezing.")
    clone = copy.deepcopy(mod._module)
    for t in list(clone.parameters()) + list(clone.buffers()):
        t.requires_grad_(False)
    out = TracedModule(clone, _trace_fn(clone, mod._example, check_trace=False), mod._example)
    for name, (_, example) in mod._methods.items():
        out._methods[name] = (_trace_fn(getattr(clone, name), example, check_trace=False), example)
    return out


def optimize_for_inference(mod, other_methods=None):
    """``freeze(mod.eval())``: as PyTorch, this puts ``mod`` itself in eval mode first."""
    if not isinstance(mod, TracedModule):
        raise RuntimeError("optimize_for_inference expects a ScriptModule as input. Please use plugtorch.jit.trace "
                           f"to trace your 'nn.Module' (got {type(mod).__name__}).")
    return freeze(mod.eval(), preserved_attrs=other_methods or [])


def trace_module(mod, inputs, check_trace=True, check_inputs=None, check_tolerance=1e-5, strict=True,
                 _force_outplace=False, _module_class=None, _compilation_unit=None, example_inputs_is_kwarg=False,
                 _store_inputs=True):
    """Trace the methods of module ``mod`` named in ``inputs`` (``{"forward": example, ...}``); the
    result is what ``jit.trace(mod, example)`` returns, with each other method traced too.

    >>> import plugtorch as pt
    >>> m = pt.jit.trace_module(pt.nn.ReLU(), {"forward": pt.tensor([-1., 2.])})
    >>> m(pt.tensor([3., -4.])).tolist()
    [3.0, 0.0]
    """
    from plugtorch._tensor import Tensor
    from plugtorch.nn.modules.module import Module
    if not isinstance(mod, Module):
        raise AttributeError("expected plugtorch.nn.Module as the first argument")
    if not isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    if example_inputs_is_kwarg:
        raise NotImplementedError("plugtorch.jit.trace_module(example_inputs_is_kwarg=True): a traced module keeps "
                                  "positional example inputs only (to trace again after .to() or .train()); pass "
                                  "each method's inputs as a tuple")

    def examples(v):
        return (v,) if isinstance(v, Tensor) else tuple(v)
    traced = {}
    for name, example in inputs.items():
        if not callable(getattr(mod, name, None)):
            raise AttributeError(f"plugtorch.jit.trace_module: {type(mod).__name__} has no method '{name}'")
        ex = examples(example)
        traced[name] = (_trace_fn(mod if name == "forward" else getattr(mod, name), ex, check_trace,
                                  check_tolerance), ex)
    fwd, ex = traced.pop("forward", (None, ()))
    out = TracedModule(mod, fwd, ex)
    out._methods.update(traced)
    return out
