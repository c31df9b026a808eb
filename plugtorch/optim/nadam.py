"""NAdam: Adam with Nesterov momentum (Dozat), with weight decay (L2 or decoupled) and maximize.

The update, for each parameter at step t (as ``torch.optim.NAdam`` computes it)::

    g = -grad if maximize else grad
    p = p * (1 - lr * weight_decay)  (decoupled_weight_decay)  or  g = g + weight_decay * p
    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));  mu_prod = mu_1 * ... * mu_t
    m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
    denom = sqrt(v / (1 - beta2^t)) + eps
    p = p - lr * (1 - mu_t) / (1 - mu_prod) * g / denom
          - lr * mu_{t+1} / (1 - mu_prod * mu_{t+1}) * m / denom
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.adam import check_adam_args
from plugtorch.optim.ops import scalar_op, weight_decay_
from plugtorch.optim.optimizer import Optimizer, check_fused_flags, check_nonnegative, zeros_state


@no_grad()
def nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, state_steps, *, lr=2e-3, beta1=0.9, beta2=0.999,
          weight_decay=0.0, momentum_decay=4e-3, eps=1e-8, maximize=False, decoupled_weight_decay=False):
    """One NAdam step over lists of tensors, in place (the 0-d ``mu_products`` and ``state_steps`` too).

    The step-dependent factors are computed from the counters with tensor ops (float64, as
    Python floats would), so a compiled step reads them instead of baking their values in.
    """
    for i, p in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        step_t, mu_product = state_steps[i], mu_products[i]
        step_t.add_(1)
        t = step_t.to(_dtypes.float64)
        g = weight_decay_(p, g, lr, weight_decay, decoupled_weight_decay)
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product.mul_(mu.to(mu_product.dtype))   # (rounded as PyTorch multiplies its float32 product)
        prod = mu_product.to(_dtypes.float64)
        m, v = exp_avgs[i], exp_avg_sqs[i]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = scalar_op(v, "div", 1 - beta2 ** t).sqrt().add_(eps)
        p.add_(scalar_op(g / denom, "mul", -lr * (1 - mu) / (1 - prod)))
        p.add_(scalar_op(m / denom, "mul", -lr * mu_next / (1 - prod * mu_next)))


class NAdam(Optimizer):
    """NAdam (Dozat, "Incorporating Nesterov Momentum into Adam").

    >>> opt = NAdam(model.parameters(), lr=2e-3)   # doctest: +SKIP
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        check_nonnegative("momentum_decay", momentum_decay)
        check_fused_flags(foreach, None, capturable, differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _update_group(self, group):
        params, states = self._group_state(group, init=lambda p: {
            "mu_product": P.ones((), dtype=_dtypes.float32), "exp_avg": zeros_state(p),
            "exp_avg_sq": zeros_state(p)})
        beta1, beta2 = group["betas"]
        nadam.__wrapped__(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                          [s["exp_avg_sq"] for s in states], [s["mu_product"] for s in states],
                          [s["step"] for s in states], lr=group["lr"], beta1=beta1, beta2=beta2,
                          weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
                          eps=group["eps"], maximize=group["maximize"],
                          decoupled_weight_decay=group["decoupled_weight_decay"])
