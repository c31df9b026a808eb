"""RMSprop with momentum, centering, weight decay and maximize.

The update, for each parameter (as ``torch.optim.RMSprop`` computes it)::

    g = -grad if maximize else grad
    g = g + weight_decay * p                      (if weight_decay)
    v = alpha * v + (1 - alpha) * g^2
    avg = sqrt(v) + eps,  or if centered:  a = alpha * a + (1 - alpha) * g;  avg = sqrt(v - a^2) + eps
    b = momentum * b + g / avg;  p = p - lr * b   (if momentum > 0)
    p = p - lr * g / avg                          (otherwise)
"""
from __future__ import annotations

from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.optimizer import Optimizer, check_fused_flags, check_lr, check_nonnegative


@no_grad()
def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, state_steps, *, lr=1e-2,
            alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
    """One RMSprop step over lists of tensors, in place (``grad_avgs`` are read only when
    centered, ``momentum_buffers`` only with momentum)."""
    for i, p in enumerate(params):
        g = grads[i]
        if maximize:
            g = -g
        state_steps[i].add_(1)
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        v = square_avgs[i]
        v.mul_(alpha).add_(g * g, alpha=1 - alpha)
        if centered:
            a = grad_avgs[i]
            a.lerp_(g, 1 - alpha)
            avg = (v - a * a).sqrt().add_(eps)
        else:
            avg = v.sqrt().add_(eps)
        if momentum > 0:
            buf = momentum_buffers[i]
            buf.mul_(momentum).add_(g / avg)
            p.add_(buf, alpha=-lr)
        else:
            p.add_(g / avg, alpha=-lr)


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum.

    >>> opt = RMSprop(model.parameters(), lr=1e-2, momentum=0.9)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        check_nonnegative("epsilon", eps)
        check_nonnegative("momentum", momentum)
        check_nonnegative("weight_decay", weight_decay)
        check_nonnegative("alpha", alpha)
        check_fused_flags(foreach, None, capturable, differentiable)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _update_group(self, group):
        optional = [name for name, on in (("momentum_buffer", group["momentum"] > 0),
                                          ("grad_avg", group["centered"])) if on]
        params, states = self._group_state(group, "square_avg", *optional)
        rmsprop(params, [p.grad for p in params], [s["square_avg"] for s in states],
                [s.get("grad_avg") for s in states], [s.get("momentum_buffer") for s in states],
                [s["step"] for s in states], lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                weight_decay=group["weight_decay"], momentum=group["momentum"],
                centered=group["centered"], maximize=group["maximize"])
