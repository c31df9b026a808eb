"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter).

Before the Adam update each parameter shrinks by ``p = p * (1 - lr * weight_decay)``,
instead of adding ``weight_decay * p`` to the gradient; see ``adam.py`` for the rest.
"""
from __future__ import annotations

from plugtorch.optim.adam import Adam, adam


def adamw(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad=False,
          beta1=0.9, beta2=0.999, lr=1e-3, weight_decay=1e-2, eps=1e-8, maximize=False, fused=None):
    """One AdamW step over lists of tensors, in place."""
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, amsgrad=amsgrad,
         beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay, eps=eps, maximize=maximize,
         decoupled_weight_decay=True, fused=fused)


class AdamW(Adam):
    """Adam with decoupled weight decay (default ``weight_decay=1e-2``).

    >>> opt = AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False, differentiable=False,
                 fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
