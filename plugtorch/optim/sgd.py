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
from plugtorch.optim.optimizer import Optimizer, check_lr, check_nonnegative


@no_grad()
def sgd(params, grads, momentum_buffers, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
        nesterov=False, maximize=False):
    """One SGD step over lists of tensors, in place; ``momentum_buffers[i]`` may be None
    (first step) and is replaced by the new buffer.

    >>> import plugtorch as pt
    >>> p = pt.tensor([1.]); sgd([p], [pt.tensor([2.])], [None], lr=0.5); p.tolist()
    [0.0]
    """
    for i, p in enumerate(params):
        g = grads[i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = momentum_buffers[i] = g.clone()
            else:
                buf.mul_(momentum).add_(g, alpha=1 - dampening)
            g = g.add(buf, alpha=momentum) if nesterov else buf
        p.add_(g, alpha=-lr)


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum).

    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        check_lr(lr)
        check_nonnegative("momentum", momentum)
        check_nonnegative("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={momentum}, dampening={dampening})")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _update_group(self, group):
        params = self._params_with_grad(group)
        bufs = [self.state[p].get("momentum_buffer") for p in params]
        sgd(params, [p.grad for p in params], bufs, lr=group["lr"], momentum=group["momentum"],
            dampening=group["dampening"], weight_decay=group["weight_decay"],
            nesterov=group["nesterov"], maximize=group["maximize"])
        if group["momentum"] != 0:
            for p, b in zip(params, bufs):
                self.state[p]["momentum_buffer"] = b
