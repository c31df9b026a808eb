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
from plugtorch.optim import ops as _ops
from plugtorch.optim.optimizer import (Optimizer, check_fused_flags, check_lr, check_nonnegative,
                                       zeros_state)


@no_grad()
def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad=False,
         beta1=0.9, beta2=0.999, lr=1e-3, weight_decay=0.0, eps=1e-8, maximize=False,
         decoupled_weight_decay=False, fused=None):
    """One Adam step over lists of tensors, in place (``state_steps`` are 0-d step counters,
    incremented here; ``max_exp_avg_sqs`` is only read with ``amsgrad``).

    The update runs as one ``_fused_adam_`` op per device (one kernel call on backends that have
    it); ``fused=False`` runs it tensor by tensor instead. Both give the same bits.
    """
    if not params:
        return
    vmaxs = max_exp_avg_sqs if amsgrad else []
    opts = (lr, beta1, beta2, weight_decay, eps, amsgrad, maximize, decoupled_weight_decay)
    if fused is False:
        _ops.fused_adam_(params, grads, exp_avgs, exp_avg_sqs, vmaxs, state_steps, *opts)
        return
    dev = params[0]._device
    if all(p._device is dev for p in params):
        _ops.fused_adam(params, grads, exp_avgs, exp_avg_sqs, vmaxs, state_steps, *opts)
        return
    groups: dict = {}
    for i, p in enumerate(params):   # one call per device
        g = groups.setdefault(p._device, [[], [], [], [], [], []])
        for lst, src in zip(g, (params, grads, exp_avgs, exp_avg_sqs, vmaxs, state_steps)):
            if src is not vmaxs or amsgrad:
                lst.append(src[i])
    for ps, gs, ms, vs, vm, st in groups.values():
        _ops.fused_adam(ps, gs, ms, vs, vm, st, *opts)


_adam = adam.__wrapped__   # (Optimizer.step already runs under no_grad)


def check_adam_args(lr, betas, eps, weight_decay) -> None:
    check_lr(lr)
    check_nonnegative("epsilon", eps)
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b} (it must be in [0, 1))")
    check_nonnegative("weight_decay", weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba), optionally with AMSGrad.

    Each step updates a group's parameters with one ``_fused_adam_`` op per device;
    ``foreach=False`` or ``fused=False`` update them one tensor at a time (the same result).

    >>> opt = Adam(model.parameters(), lr=1e-3)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False, differentiable=False,
                 fused=None, decoupled_weight_decay=False):
        check_adam_args(lr, betas, eps, weight_decay)
        check_fused_flags(foreach, fused, capturable, differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update_group(self, group):
        params, states = self._group_state(
            group, "exp_avg", "exp_avg_sq",
            init=lambda p: {"max_exp_avg_sq": zeros_state(p)} if group["amsgrad"] else {})
        beta1, beta2 = group["betas"]
        _adam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
             [s["exp_avg_sq"] for s in states], [s.get("max_exp_avg_sq") for s in states],
             [s["step"] for s in states], amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2,
             lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
             maximize=group["maximize"], decoupled_weight_decay=group["decoupled_weight_decay"],
             fused=False if group.get("foreach") is False or group.get("fused") is False else None)
