"""Adam (and the shared math of AdamW), with amsgrad, weight decay and maximize.

The update, for each parameter at step t (as ``torch.optim.Adam`` computes it)::

    g = -grad if maximize else grad
    p = p * (1 - lr * weight_decay)           (AdamW: decoupled weight decay)
    g = g + weight_decay * p                  (Adam: L2 penalty)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g^2
    v_max = max(v_max, v)                     (amsgrad; then v_max is used for v below)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
"""
from __future__ import annotations

import math

from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.optimizer import Optimizer, check_lr, check_nonnegative, new_step, zeros_state


@no_grad()
def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad=False,
         beta1=0.9, beta2=0.999, lr=1e-3, weight_decay=0.0, eps=1e-8, maximize=False,
         decoupled_weight_decay=False):
    """One Adam step over lists of tensors, in place (``state_steps`` are 0-d step counters,
    incremented here; ``max_exp_avg_sqs`` is only read with ``amsgrad``)."""
    for i, p in enumerate(params):
        g = grads[i]
        if maximize:
            g = -g
        step_t = state_steps[i]
        step_t.add_(1)
        t = step_t.item()
        if weight_decay != 0:
            if decoupled_weight_decay:
                p.mul_(1 - lr * weight_decay)
            else:
                g = g.add(p, alpha=weight_decay)
        m, v = exp_avgs[i], exp_avg_sqs[i]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).add_(g * g, alpha=1 - beta2)
        if amsgrad:
            vmax = max_exp_avg_sqs[i]
            vmax.copy_(vmax.maximum(v))
            v = vmax
        step_size = lr / (1 - beta1 ** t)
        denom = (v.sqrt() / math.sqrt(1 - beta2 ** t)).add_(eps)
        p.add_(m / denom, alpha=-step_size)


def check_adam_args(lr, betas, eps, weight_decay) -> None:
    check_lr(lr)
    check_nonnegative("epsilon", eps)
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b} (it must be in [0, 1))")
    check_nonnegative("weight_decay", weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba), optionally with AMSGrad.

    >>> opt = Adam(model.parameters(), lr=1e-3)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update_group(self, group):
        params = self._params_with_grad(group)
        for p in params:
            st = self.state[p]
            if not st:
                st["step"] = new_step()
                st["exp_avg"] = zeros_state(p)
                st["exp_avg_sq"] = zeros_state(p)
                if group["amsgrad"]:
                    st["max_exp_avg_sq"] = zeros_state(p)
        states = [self.state[p] for p in params]
        beta1, beta2 = group["betas"]
        adam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
             [s["exp_avg_sq"] for s in states], [s.get("max_exp_avg_sq") for s in states],
             [s["step"] for s in states], amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2,
             lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
             maximize=group["maximize"], decoupled_weight_decay=group["decoupled_weight_decay"])
