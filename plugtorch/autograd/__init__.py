"""Reverse-mode automatic differentiation above the dispatcher.

>>> import plugtorch as pt
>>> x = pt.tensor([2.0], requires_grad=True)
>>> (x * x).sum().backward(); x.grad.tolist()
[4.0]
"""
from __future__ import annotations

from plugtorch._caches import Memo
from plugtorch.autograd import forward_ad, graph  # noqa: F401
from plugtorch.autograd.function import Function, FunctionCtx  # noqa: F401
from plugtorch.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                                          is_inference_mode_enabled, no_grad, set_grad_enabled)
from plugtorch.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from plugtorch.autograd.anomaly_mode import (detect_anomaly, is_anomaly_check_nan_enabled,  # noqa: F401
                                             is_anomaly_enabled, set_detect_anomaly)


def _as_list(x):
    if x is None:
        return None
    from plugtorch._tensor import Tensor
    return [x] if isinstance(x, (Tensor, graph.GradientEdge)) else list(x)


_ONES = Memo(64)   # (shape, dtype, device id) -> the implicit gradient 1 of scalar outputs


def _implicit_grad(o, k):
    """The gradient 1 of a scalar output.

    One cached tensor per (shape, dtype, device) serves every backward(): the engine never
    stores a root gradient (or a view of it) as a leaf's .grad without copying it, and
    ``_check_ones`` evicts the tensor if a hook modified it in place (its version moved).
    """
    if o._data.shape != () and o.numel() != 1:
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs (output {k} has "
                           f"shape {list(o.shape)}); pass gradient= (or grad_outputs=) explicitly")
    if o._dtype.is_complex:
        raise RuntimeError(f"grad can be implicitly created only for real scalar outputs (output {k} is "
                           f"{o._dtype}); reduce it to a real loss first, e.g. z.abs().sum() or z.real.sum()")
    key = (o._data.shape, o._dtype, id(o._device))
    one = _ONES.get(key)
    if one is None or one._device is not o._device:
        import plugtorch as pt
        from plugtorch.dispatch.dispatcher import outside_modes
        with no_grad(), outside_modes():    # (a cached constant: a tracer captures it)
            one = _ONES[key] = pt.ones(tuple(o.shape), dtype=o.dtype, device=o.device)
    return one


def _check_ones(g):
    if g._vc is not None and g._vc[0]:
        for key, v in list(_ONES.items()):
            if v is g:
                del _ONES[key]





def _root_grads(outputs, grad_outputs, create_graph):
    import plugtorch as pt
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients: pass one "
                           f"gradient (or None) per output")
    grads = []
    for k, o in enumerate(outputs):
        g = grad_outputs[k] if grad_outputs is not None else None
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
    if grad_outputs is None or None in grad_outputs:   # autograd.grad may return a root grad
        grads = [g.clone() if g is _ONES.get((g._data.shape, g._dtype, id(g._device))) else g for g in grads]
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
        g = _implicit_grad(tensors, 0)
        try:
            run_backward((tensors,), (g,), retain_graph, create_graph)
        finally:
            if g._vc is not None:
                _check_ones(g)
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
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    grad_outputs = _as_list(grad_outputs)
    for k, o in enumerate(outputs):
        if not o.requires_grad:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn")
    if retain_graph is None:
        retain_graph = create_graph
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             bool(allow_unused or materialize_grads), materialize_grads)
    res = run_backward(outputs, _root_grads(outputs, grad_outputs, create_graph), retain_graph, create_graph,
                       inputs=inputs, accumulate=False, allow_unused=bool(allow_unused or materialize_grads))
    if materialize_grads:
        import plugtorch as pt
        res = tuple(r if r is not None else pt.zeros_like(i) for r, i in zip(res, inputs))
    return res


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize):
    """grad(..., is_grads_batched=True): the first dimension of each grad_output is a batch of
    vectors; one vector-Jacobian product per batch entry, stacked (PyTorch runs it under vmap)."""
    import plugtorch as pt
    if grad_outputs is None or len(grad_outputs) != len(outputs) or any(
            not isinstance(g, Tensor) for g in grad_outputs):
        raise RuntimeError("is_grads_batched=True needs grad_outputs: one tensor per output whose first "
                           "dimension is the batch")
    n = None
    for k, (g, o) in enumerate(zip(grad_outputs, outputs)):
        if g.ndim == 0 or tuple(g.shape[1:]) != tuple(o.shape) or (n is not None and g.shape[0] != n):
            raise RuntimeError(
                "If `is_grads_batched=True`, we interpret the first dimension of each grad_output as the "
                "batch dimension. The sizes of the remaining dimensions are expected to match the shape of "
                f"corresponding output, but a mismatch was detected: grad_output[{k}] has a shape of "
                f"{list(g.shape)} and output[{k}] has a shape of {list(o.shape)}.")
        n = g.shape[0]
    rows = []
    for b in range(n):
        rows.append(run_backward(outputs, _root_grads(outputs, [g[b] for g in grad_outputs], create_graph),
                                 retain_graph or b < n - 1, create_graph, inputs=inputs, accumulate=False,
                                 allow_unused=allow_unused))
    res = []
    for k, i in enumerate(inputs):
        col = [r[k] for r in rows]
        if n and all(c is not None for c in col):
            res.append(pt.stack(col))
        elif materialize or (n == 0 and not allow_unused):
            res.append(pt.zeros((n, *i.shape), dtype=i.dtype, device=i.device))
        else:
            res.append(None)
    return tuple(res)


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """The legacy wrapper: ``Variable(t, requires_grad=False)`` returns a tensor sharing ``t``'s data
    (a new leaf), and every tensor is an instance of ``Variable``, as in PyTorch.

    >>> import plugtorch as pt
    >>> v = Variable(pt.ones(2), requires_grad=True)
    >>> v.requires_grad, isinstance(pt.ones(1), Variable)
    (True, True)
    """

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        import plugtorch as pt
        if volatile:
            import warnings
            warnings.warn("volatile was removed and now has no effect. Use `with plugtorch.no_grad():` "
                          "instead.", stacklevel=2)
        if data is None:
            data = pt.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(bool(requires_grad))


# below the public names: engine imports formulas, which import plugtorch's public API
from plugtorch._tensor import Tensor  # noqa: E402
from plugtorch.autograd.engine import run_backward  # noqa: E402
from plugtorch.autograd import functional  # noqa: E402,F401
from plugtorch.autograd import profiler  # noqa: E402,F401  (torch.autograd.profiler: the older profiler interface)
