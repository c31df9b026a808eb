"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize.

The update, for each parameter (as ``torch.optim.SGD`` computes it)::

    g = -grad if maximize else grad
    g = g + weight_decay * p                       (if weight_decay)
    b = g (first step) else momentum * b + (1 - dampening) * g   (if momentum)
    g = g + momentum * b if nesterov else b        (if momentum)
    p = p - lr * g
"""
from __future__ import annotations

from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim import ops as _ops
from plugtorch.optim.optimizer import Optimizer, check_fused_flags, check_lr, check_nonnegative


@no_grad()
def sgd(params, grads, momentum_buffers, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
        nesterov=False, maximize=False, fused=None):
    """One SGD step over lists of tensors, in place; ``momentum_buffers[i]`` may be None
    (first step) and is replaced by the new buffer.

    The update runs as one ``_fused_sgd_`` op per device (one kernel call on backends that have
    it) once every buffer exists; ``fused=False`` runs it tensor by tensor instead. Both give
    the same bits.

    >>> import plugtorch as pt
    >>> p = pt.tensor([1.]); sgd([p], [pt.tensor([2.])], [None], lr=0.5); p.tolist()
    [0.0]
    """
    if momentum != 0 and any(b is None for b in momentum_buffers):
        rest = []
        for i, b in enumerate(momentum_buffers):
            if b is not None:
                rest.append(i)
                continue
            g = -grads[i] if maximize else grads[i]   # the first step: the buffer starts as the gradient
            if weight_decay != 0:
                g = g.add(params[i], alpha=weight_decay)
            b = momentum_buffers[i] = g.clone()
            params[i].add_(g.add(b, alpha=momentum) if nesterov else b, alpha=-lr)
        params, grads = [params[i] for i in rest], [grads[i] for i in rest]
        bufs = [momentum_buffers[i] for i in rest]
    else:
        bufs = momentum_buffers if momentum != 0 else []
    if not params:
        return
    if fused is False:
        _ops.fused_sgd_(params, grads, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize)
        return
    for ps, gs, bs in _by_device(params, grads, bufs):
        _ops.fused_sgd(ps, gs, bs, lr, momentum, dampening, weight_decay, nesterov, maximize)


_sgd = sgd.__wrapped__   # (Optimizer.step already runs under no_grad)


def _by_device(params, grads, bufs):
    """The lists split by device (usually one piece: the lists as they are)."""
    dev = params[0]._device if params else None
    if all(p._device is dev for p in params):
        return [(params, grads, bufs)]
    groups: dict = {}
    for i, p in enumerate(params):
        ps, gs, bs = groups.setdefault(p._device, ([], [], []))
        ps.append(p)
        gs.append(grads[i])
        if bufs:
            bs.append(bufs[i])
    return list(groups.values())


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum).

    Each step updates a group's parameters with one ``_fused_sgd_`` op per device;
    ``foreach=False`` or ``fused=False`` update them one tensor at a time (the same result).

    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False, fused=None):
        check_lr(lr)
        check_fused_flags(foreach, fused, differentiable=differentiable)
        check_nonnegative("momentum", momentum)
        check_nonnegative("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={momentum}, dampening={dampening})")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                                      foreach=foreach, fused=fused))

    def _update_group(self, group):
        momentum = group["momentum"]
        params, grads, states = [], [], []
        for p in group["params"]:
            g = p.grad
            if g is not None:
                params.append(p)
                grads.append(g)
        if momentum != 0:
            states = [self.state[p] for p in params]
        bufs = [st.get("momentum_buffer") for st in states]
        _sgd(params, grads, bufs, lr=group["lr"], momentum=momentum, dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"], maximize=group["maximize"],
            fused=False if group.get("foreach") is False or group.get("fused") is False else None)
        for st, b in zip(states, bufs):
            st["momentum_buffer"] = b
