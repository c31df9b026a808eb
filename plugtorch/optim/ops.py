"""The optimizers' multi-tensor updates, declared as composite ops of the registry.

``_fused_sgd_`` (PyTorch's name) updates every parameter of a group in one dispatch: its
decomposition is SGD's per-tensor update written with in-place ops, so every backend runs it,
and a backend may register a kernel under the same name that does the whole list at once (cpu
does: it saves about three dispatches per parameter per step). The kernel must round as the
decomposition does; the conformance entries ``optim.SGD*`` and ``_fused_sgd_`` compare the
two on every backend.

>>> import plugtorch as pt
>>> p, g, b = pt.tensor([1.]), pt.tensor([2.]), pt.tensor([1.])
>>> pt.ops._fused_sgd_([p], [g], [b], 0.5, 0.9, 0.0, 0.0, False, False)
>>> p.tolist(), b.tolist()
([-0.45000001788139343], [2.9000000953674316])
"""
from __future__ import annotations

from plugtorch import _ops_public
from plugtorch._dtypes import _FLOAT
from plugtorch._tensor import Tensor
from plugtorch.dispatch.dispatcher import dispatch
from plugtorch.dispatch.meta import device_mismatch
from plugtorch.dispatch.registry import OPS, OUT_RAW, register_op


def _sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One parameter's SGD update, in place (``buf``: its momentum buffer, already holding at
    least the first step's gradient; ignored when momentum is 0)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g.add(p, alpha=weight_decay)
    if momentum != 0:
        buf.mul_(momentum).add_(g, alpha=1 - dampening)
        g = g.add(buf, alpha=momentum) if nesterov else buf
    p.add_(g, alpha=-lr)


def fused_sgd_(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """SGD's update of every parameter in ``params``, in place (``momentum_buffers`` too).

    ``momentum_buffers`` is empty when momentum is 0; otherwise it holds one buffer per
    parameter, each already initialised (SGD's first step copies the gradient into it).
    """
    bufs = momentum_buffers if momentum != 0 else [None] * len(params)
    for p, g, b in zip(params, grads, bufs):
        _sgd_update(p, g, b, lr, momentum, dampening, weight_decay, nesterov, maximize)


def _fused_sgd_meta(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One device for everything; per parameter, a gradient (and a buffer) of its shape and dtype.
    A kernel receives the three lists as native arrays, the options, and the parameters' dtypes."""
    n = len(params)
    bufs = momentum_buffers if momentum != 0 else ()
    if len(grads) != n or (momentum != 0 and len(bufs) != n):
        raise RuntimeError(f"_fused_sgd_(): expected as many gradients and momentum buffers as parameters, got "
                           f"{n} parameters, {len(grads)} gradients and {len(momentum_buffers)} buffers")
    if not _all_alike(params, grads, bufs):
        _explain(params, grads, bufs)
    if n:
        dev = params[0]._device
    else:
        from plugtorch._device import device
        dev = device("cpu")
    return dev, ([p._data for p in params], [g._data for g in grads], [b._data for b in bufs], lr, momentum,
                 dampening, weight_decay, bool(nesterov), bool(maximize), [p._dtype for p in params]), None


def _all_alike(params, grads, bufs) -> bool:
    """The common case, checked quickly: tensors of floating dtypes, all on one device, each gradient
    (and buffer) of its parameter's dtype and shape."""
    if not params:
        return True
    dev = params[0]._device
    try:
        for i, p in enumerate(params):
            g = grads[i]
            dt, shape = p._dtype, p._data.shape
            if (p._device is not dev or g._device is not dev or g._dtype is not dt or g._data.shape != shape
                    or dt.category != _FLOAT or not isinstance(g, Tensor) or not isinstance(p, Tensor)):
                return False
            if bufs:
                b = bufs[i]
                if b._device is not dev or b._dtype is not dt or b._data.shape != shape or not isinstance(b, Tensor):
                    return False
    except AttributeError:   # not a tensor
        return False
    return True


def _explain(params, grads, bufs):
    """Raise the error that describes why ``_all_alike`` refused the lists."""
    dev = None
    for i, p in enumerate(params):
        for t in (p, grads[i]) + ((bufs[i],) if bufs else ()):
            if not isinstance(t, Tensor):
                raise TypeError(f"_fused_sgd_(): expected lists of Tensors, got a {type(t).__name__}")
            if dev is None:
                dev = t._device
            elif t._device is not dev:
                raise device_mismatch("_fused_sgd_", dev, t._device)
            if t._dtype is not p._dtype or t._data.shape != p._data.shape:
                raise RuntimeError(f"_fused_sgd_(): parameter {i} is {p._dtype} of shape {tuple(p.shape)} but its "
                                   f"gradient or buffer is {t._dtype} of shape {tuple(t.shape)}")
        if not p._dtype.is_floating_point:
            raise RuntimeError(f"_fused_sgd_(): parameter {i} has dtype {p._dtype}; SGD updates floating point tensors")
    raise AssertionError("_fused_sgd_(): unexplained refusal")   # pragma: no cover


def _register():
    op = OPS.get("_fused_sgd_")
    if op is None:
        op = register_op("_fused_sgd_", _fused_sgd_meta, decomposition=fused_sgd_, differentiable=False,
                         out_kind=OUT_RAW)

    def _fused_sgd(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov, maximize):
        dispatch(op, params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov, maximize)
        for t in params:   # (a kernel wrote the arrays directly)
            t._bump_version()
        if momentum != 0:
            for t in momentum_buffers:
                t._bump_version()
    _fused_sgd.__name__ = _fused_sgd.__qualname__ = "_fused_sgd_"
    _fused_sgd.__doc__ = fused_sgd_.__doc__
    _fused_sgd._op = op
    setattr(_ops_public.ops, "_fused_sgd_", _fused_sgd)
    return _fused_sgd


fused_sgd = _register()
