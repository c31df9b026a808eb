"""RAdam: Adam with a rectified adaptive learning rate (Liu et al.), with weight decay and maximize.

The update, for each parameter at step t (as ``torch.optim.RAdam`` computes it)::

    g = -grad if maximize else grad
    p = p * (1 - lr * weight_decay)  (decoupled_weight_decay)  or  g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
    m_hat = m / (1 - beta1^t)
    rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    if rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                   p = p - lr * m_hat * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
    else:          p = p - lr * m_hat
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.adam import check_adam_args
from plugtorch.optim.ops import scalar_op, weight_decay_
from plugtorch.optim.optimizer import Optimizer, check_fused_flags


@no_grad()
def radam(params, grads, exp_avgs, exp_avg_sqs, state_steps, *, lr=1e-3, beta1=0.9, beta2=0.999,
          weight_decay=0.0, eps=1e-8, maximize=False, decoupled_weight_decay=False):
    """One RAdam step over lists of tensors, in place.

    The choice between the rectified and the plain step is a ``where`` on the step counter,
    not a Python ``if``, so a compiled step stays one graph across the switch at rho_t = 5.
    """
    rho_inf = 2 / (1 - beta2) - 1
    for i, p in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        step_t = state_steps[i]
        step_t.add_(1)
        t = step_t.to(_dtypes.float64)
        g = weight_decay_(p, g, lr, weight_decay, decoupled_weight_decay)
        m, v = exp_avgs[i], exp_avg_sqs[i]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        bc1, bc2 = 1 - beta1 ** t, 1 - beta2 ** t
        rho_t = rho_inf - 2 * t * beta2 ** t / bc2
        rectified = rho_t > 5.0
        # (the rectifier is nan for rho_t <= 4; the where never picks it there)
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)).sqrt()
        m_hat = scalar_op(m, "div", bc1)
        adaptive = scalar_op(v.sqrt().add_(eps).reciprocal(), "mul", bc2.sqrt() * P.where(rectified, rect, 1.0))
        step = P.where(rectified.to(p.device), m_hat * lr * adaptive, m_hat * lr)
        p.sub_(step)


class RAdam(Optimizer):
    """RAdam (Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond").

    >>> opt = RAdam(model.parameters(), lr=1e-3)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        check_fused_flags(foreach, None, capturable, differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable, differentiable=differentiable))

    def _update_group(self, group):
        params, states = self._group_state(group, "exp_avg", "exp_avg_sq")
        beta1, beta2 = group["betas"]
        radam.__wrapped__(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                          [s["exp_avg_sq"] for s in states], [s["step"] for s in states], lr=group["lr"],
                          beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                          maximize=group["maximize"], decoupled_weight_decay=group["decoupled_weight_decay"])
