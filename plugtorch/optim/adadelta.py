"""Adadelta (Zeiler), with weight decay and maximize.

The update, for each parameter (as ``torch.optim.Adadelta`` computes it)::

    g = -grad if maximize else grad
    g = g + weight_decay * p                      (if weight_decay)
    v = rho * v + (1 - rho) * g^2
    delta = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * delta^2
    p = p - lr * delta
"""
from __future__ import annotations

from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.optimizer import Optimizer, check_fused_flags, check_lr, check_nonnegative


@no_grad()
def adadelta(params, grads, square_avgs, acc_deltas, state_steps, *, lr=1.0, rho=0.9, eps=1e-6,
             weight_decay=0.0, maximize=False):
    """One Adadelta step over lists of tensors, in place."""
    for i, p in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        state_steps[i].add_(1)
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        v, u = square_avgs[i], acc_deltas[i]
        v.mul_(rho).addcmul_(g, g, value=1 - rho)
        delta = u.add(eps).sqrt_().div_(v.add(eps).sqrt_()).mul_(g)
        u.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-lr)


class Adadelta(Optimizer):
    """Adadelta ("An Adaptive Learning Rate Method").

    >>> opt = Adadelta(model.parameters(), lr=1.0)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho} (it must be in [0, 1])")
        check_nonnegative("epsilon", eps)
        check_nonnegative("weight_decay", weight_decay)
        check_fused_flags(foreach, None, capturable, differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      capturable=capturable, maximize=maximize, differentiable=differentiable))

    def _update_group(self, group):
        params, states = self._group_state(group, "square_avg", "acc_delta")
        adadelta.__wrapped__(params, [p.grad for p in params], [s["square_avg"] for s in states],
                             [s["acc_delta"] for s in states], [s["step"] for s in states], lr=group["lr"],
                             rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                             maximize=group["maximize"])
