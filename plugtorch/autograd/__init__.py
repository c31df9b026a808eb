"""Reverse-mode automatic differentiation above the dispatcher.

>>> import plugtorch as pt
>>> x = pt.tensor([2.0], requires_grad=True)
>>> (x * x).sum().backward(); x.grad.tolist()
[4.0]
"""
from __future__ import annotations

from plugtorch.autograd import graph  # noqa: F401
from plugtorch.autograd.function import Function, FunctionCtx  # noqa: F401
from plugtorch.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                                          is_inference_mode_enabled, no_grad, set_grad_enabled)
from plugtorch.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401


def _as_list(x):
    if x is None:
        return None
    from plugtorch._tensor import Tensor
    return [x] if isinstance(x, Tensor) else list(x)


_ONES: dict = {}   # (shape, dtype, device) -> a tensor of ones, cloned for each implicit root grad


def _implicit_grad(o, k):
    """The gradient 1 of a scalar output (a fresh tensor: the engine may hand it to a leaf)."""
    if o._data.shape != () and o.numel() != 1:
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs (output {k} has "
                           f"shape {list(o.shape)}); pass gradient= (or grad_outputs=) explicitly")
    key = (o._data.shape, o._dtype, o._device)
    one = _ONES.get(key)
    if one is None:
        import plugtorch as pt
        with no_grad():
            one = _ONES[key] = pt.ones(tuple(o.shape), dtype=o.dtype, device=o.device)
    return _run(_CLONE, (one,), _NO_KWARGS)


_NO_KWARGS: dict = {}


def _root_grads(outputs, grad_outputs, create_graph):
    import plugtorch as pt
    grads = []
    for k, o in enumerate(outputs):
        g = grad_outputs[k] if grad_outputs is not None and k < len(grad_outputs) else None
        if g is None:
            g = _implicit_grad(o, k)
        else:
            if not isinstance(g, pt.Tensor):
                g = pt.full(tuple(o.shape), g, dtype=o.dtype, device=o.device)
            if tuple(g.shape) != tuple(o.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[{k}] has a shape of {list(g.shape)} and "
                                   f"output[{k}] has a shape of {list(o.shape)}.")
            if g.device != o.device:
                raise RuntimeError(f"Mismatch in device: grad_output[{k}] is on {g.device} but output[{k}] is on {o.device}")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad`` (``Tensor.backward`` calls this).

    >>> x = plugtorch.ones(2, requires_grad=True)
    >>> backward((x * 3).sum()); x.grad.tolist()
    [3.0, 3.0]
    """
    if retain_graph is None:
        retain_graph = create_graph
    if tensors.__class__ is Tensor and grad_tensors is None and inputs is None:
        # the common case: loss.backward()
        if not tensors._rg:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        run_backward((tensors,), (_implicit_grad(tensors, 0),), retain_graph, create_graph)
        return
    tensors = _as_list(tensors)
    grad_tensors = _as_list(grad_tensors)
    for k, t in enumerate(tensors):
        if not t.requires_grad:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn")
    inputs = _as_list(inputs)
    if inputs is not None and not inputs:
        raise RuntimeError("backward(): 'inputs' argument must not be empty; pass the tensors to "
                           "accumulate gradients into, or None for all leaves")
    run_backward(tensors, _root_grads(tensors, grad_tensors, create_graph), retain_graph, create_graph,
                 inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching ``.grad``.

    >>> x = plugtorch.ones(2, requires_grad=True)
    >>> grad((x * x).sum(), x)[0].tolist()
    [2.0, 2.0]
    """
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    grad_outputs = _as_list(grad_outputs)
    for k, o in enumerate(outputs):
        if not o.requires_grad:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn")
    if retain_graph is None:
        retain_graph = create_graph
    res = run_backward(outputs, _root_grads(outputs, grad_outputs, create_graph), retain_graph, create_graph,
                       inputs=inputs, accumulate=False, allow_unused=bool(allow_unused or materialize_grads))
    if materialize_grads:
        import plugtorch as pt
        res = tuple(r if r is not None else pt.zeros_like(i) for r, i in zip(res, inputs))
    return res


# below the public names: engine imports formulas, which import plugtorch's public API
from plugtorch._tensor import Tensor  # noqa: E402
from plugtorch.autograd.engine import run_backward  # noqa: E402
from plugtorch.dispatch.dispatcher import run as _run  # noqa: E402
from plugtorch.dispatch.registry import OPS as _OPS  # noqa: E402

_CLONE = _OPS["clone"]
