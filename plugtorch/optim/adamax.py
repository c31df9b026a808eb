"""Adamax: Adam with the infinity norm (Kingma & Ba), with weight decay and maximize.

The update, for each parameter at step t (as ``torch.optim.Adamax`` computes it)::

    g = -grad if maximize else grad
    g = g + weight_decay * p                      (if weight_decay)
    m = beta1 * m + (1 - beta1) * g
    u = max(beta2 * u, |g| + eps)
    p = p - lr / (1 - beta1^t) * m / u
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.adam import check_adam_args
from plugtorch.optim.ops import scalar_op
from plugtorch.optim.optimizer import Optimizer, check_fused_flags


@no_grad()
def adamax(params, grads, exp_avgs, exp_infs, state_steps, *, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
           weight_decay=0.0, maximize=False):
    """One Adamax step over lists of tensors, in place."""
    for i, p in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        step_t = state_steps[i]
        step_t.add_(1)
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        m, u = exp_avgs[i], exp_infs[i]
        m.lerp_(g, 1 - beta1)
        u.copy_(u.mul_(beta2).maximum(g.abs().add_(eps)))
        t = step_t.to(_dtypes.float64)
        p.add_(scalar_op(m / u, "mul", -lr / (1 - beta1 ** t)))


class Adamax(Optimizer):
    """Adamax, the infinity-norm variant of Adam.

    >>> opt = Adamax(model.parameters(), lr=2e-3)   # doctest: +SKIP
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        check_fused_flags(foreach, None, capturable, differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _update_group(self, group):
        params, states = self._group_state(group, "exp_avg", "exp_inf")
        beta1, beta2 = group["betas"]
        adamax.__wrapped__(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                           [s["exp_inf"] for s in states], [s["step"] for s in states], lr=group["lr"],
                           beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                           maximize=group["maximize"])
