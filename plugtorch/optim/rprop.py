"""Rprop: resilient backpropagation (Riedmiller & Braun), with maximize.

The update, for each parameter (as ``torch.optim.Rprop`` computes it)::

    g = -grad if maximize else grad
    s = sign(g * g_prev)
    step_size = clamp(step_size * (eta_plus if s > 0, eta_minus if s < 0, 1 if s == 0),
                      step_size_min, step_size_max)
    g = 0 where s < 0                              (no move after a sign change)
    p = p - sign(g) * step_size;   g_prev = g

``step_size`` starts at ``lr`` for every element.
"""
from __future__ import annotations

from plugtorch import _ops_public as P
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.optimizer import Optimizer, check_fused_flags, check_lr


@no_grad()
def rprop(params, grads, prevs, step_sizes, state_steps, *, step_size_min=1e-6, step_size_max=50.0,
          etaminus=0.5, etaplus=1.2, maximize=False):
    """One Rprop step over lists of tensors, in place."""
    for i, p in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        state_steps[i].add_(1)
        prev, step_size = prevs[i], step_sizes[i]
        s = (g * prev).sign()
        factor = P.where(s > 0, P.full_like(s, etaplus), P.where(s < 0, P.full_like(s, etaminus), P.ones_like(s)))
        step_size.mul_(factor).clamp_(step_size_min, step_size_max)
        g = P.where(s < 0, P.zeros_like(g), g)
        p.addcmul_(g.sign(), step_size, value=-1)
        prev.copy_(g)


class Rprop(Optimizer):
    """Rprop: each element moves by its own step size, grown or shrunk by the gradient's sign.

    >>> opt = Rprop(model.parameters(), lr=1e-2)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]} (they must satisfy 0 < etaminus < 1 < "
                             "etaplus)")
        check_fused_flags(foreach, None, capturable, differentiable)
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _update_group(self, group):
        params, states = self._group_state(
            group, "prev", init=lambda p: {"step_size": P.full_like(p, float(group["lr"]))})
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        rprop.__wrapped__(params, [p.grad for p in params], [s["prev"] for s in states],
                          [s["step_size"] for s in states], [s["step"] for s in states], step_size_min=lo,
                          step_size_max=hi, etaminus=etaminus, etaplus=etaplus, maximize=group["maximize"])
