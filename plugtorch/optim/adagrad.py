"""Adagrad with learning-rate decay, weight decay and maximize.

The update, for each parameter at step t (as ``torch.optim.Adagrad`` computes it)::

    g = -grad if maximize else grad
    g = g + weight_decay * p                      (if weight_decay)
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g^2                                   (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.ops import scalar_op
from plugtorch.optim.optimizer import Optimizer, check_fused_flags, check_lr, check_nonnegative, new_step


@no_grad()
def adagrad(params, grads, state_sums, state_steps, *, lr=1e-2, weight_decay=0.0, lr_decay=0.0,
            eps=1e-10, maximize=False):
    """One Adagrad step over lists of tensors, in place."""
    for i, p in enumerate(params):
        g = grads[i]
        if maximize:
            g = -g
        step_t = state_steps[i]
        step_t.add_(1)
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        # the decayed rate from the step counter with tensor ops (float64, as Python floats would),
        # so a traced step reads the counter instead of baking its value in
        t = step_t.to(_dtypes.float64)
        s = state_sums[i]
        s.add_(g * g)
        p.add_(scalar_op(g / s.sqrt().add_(eps), "mul", -(lr / (1 + (t - 1) * lr_decay))))


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.).

    >>> opt = Adagrad(model.parameters(), lr=1e-2)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        check_nonnegative("lr_decay", lr_decay)
        check_nonnegative("weight_decay", weight_decay)
        check_nonnegative("initial_accumulator_value", initial_accumulator_value)
        check_nonnegative("epsilon", eps)
        check_fused_flags(foreach, fused, False, differentiable)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))

    def add_param_group(self, param_group):
        # Adagrad's accumulators start at initial_accumulator_value, so they are made up front
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[p]["step"] = new_step()
            self.state[p]["sum"] = P.full_like(p, group["initial_accumulator_value"])

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = [self.state[p] for p in params]
        adagrad(params, [p.grad for p in params], [s["sum"] for s in states], [s["step"] for s in states],
                lr=group["lr"], weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                eps=group["eps"], maximize=group["maximize"])
