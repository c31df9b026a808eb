"""Optimizers as conformance entries: a few steps on the device equal the same steps on cpu.

Each entry's function copies the parameter (so inputs stay unchanged), runs the optimizer for
three steps with gradients ``grad``, ``-0.5 * grad`` and ``2 * grad``, and returns the parameter.
Every option that changes the update math gets its own entry (``optim.SGD.nesterov`` ...).
"""
from __future__ import annotations

import plugtorch as pt

import numpy as np

from ..entry import Entry, ErrorInput, Input, Sample

OPTIM_DTYPES = (pt.float32, pt.float64)
_SHAPES = (((), "contiguous", "contiguous"), ((5,), "contiguous", "stepped"),
           ((3, 4), "transposed", "contiguous"), ((2, 3, 4), "contiguous", "transposed"), ((0, 3), "contiguous", "contiguous"))


def _steps(cls, opts):
    def fn(param, grad):
        p = param.detach().clone().requires_grad_()
        opt = cls([p], **opts)
        for scale in (1.0, -0.5, 2.0):
            p.grad = grad * scale
            opt.step()
        return p.detach()
    fn.__name__ = f"{cls.__name__}_steps"
    return fn


def _samples(ctx):
    return [Sample(ctx.input(shape, layout=lp, requires_grad=False), ctx.input(shape, layout=lg, requires_grad=False))
            for shape, lp, lg in _SHAPES]


def _errors(ctx):
    # a gradient of another shape can't be assigned to the parameter
    return [ErrorInput(Sample(ctx.input((3,), requires_grad=False), ctx.input((4,), requires_grad=False)),
                       RuntimeError, "assigned grad has data of a different size")]


_CASES = {
    "SGD": (pt.optim.SGD, dict(lr=0.1)),
    "SGD.momentum": (pt.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "SGD.nesterov": (pt.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    "Adam": (pt.optim.Adam, dict(lr=0.01)),
    "Adam.amsgrad": (pt.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    "AdamW": (pt.optim.AdamW, dict(lr=0.01, maximize=True)),
    "RMSprop": (pt.optim.RMSprop, dict(lr=0.01)),
    "RMSprop.centered": (pt.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    "Adagrad": (pt.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
}
# the later optimizers: one entry each, on fewer shapes (a 0-d, a strided vector, a transposed
# matrix, a 3-d tensor: Adafactor factors the last two dims of the last two)
_MORE_CASES = {
    "NAdam": (pt.optim.NAdam, dict(lr=0.01, weight_decay=0.1, momentum_decay=0.05)),
    "RAdam": (pt.optim.RAdam, dict(lr=0.01, betas=(0.9, 0.5), decoupled_weight_decay=True, weight_decay=0.1)),
    "Adamax": (pt.optim.Adamax, dict(lr=0.01, weight_decay=0.1, maximize=True)),
    "Adadelta": (pt.optim.Adadelta, dict(lr=0.5, weight_decay=0.1)),
    "ASGD": (pt.optim.ASGD, dict(lr=0.01, t0=1, lambd=0.1, weight_decay=0.1)),
    "Rprop": (pt.optim.Rprop, dict(lr=0.01, maximize=True)),
    "Adafactor": (pt.optim.Adafactor, dict(lr=0.01, weight_decay=0.1)),
    "SparseAdam": (pt.optim.SparseAdam, dict(lr=0.01)),
}
_FEW_SHAPES = _SHAPES[:4]


def _few_samples(ctx):
    return [Sample(ctx.input(shape, layout=lp, requires_grad=False), ctx.input(shape, layout=lg, requires_grad=False))
            for shape, lp, lg in _FEW_SHAPES]


def _matrix_samples(ctx):
    # Muon takes 2-d parameters: a wide and a tall (transposed in its iteration) one
    return [Sample(ctx.input((3, 5), requires_grad=False), ctx.input((3, 5), layout="transposed", requires_grad=False)),
            Sample(ctx.input((6, 4), layout="transposed", requires_grad=False), ctx.input((6, 4), requires_grad=False))]


def _muon_errors(ctx):
    return [ErrorInput(Sample(ctx.input((3,), requires_grad=False), ctx.input((3,), requires_grad=False)),
                       ValueError, "Muon only supports 2D parameters")]


def _lbfgs_errors(ctx):
    return [ErrorInput(Sample(ctx.input((3,), requires_grad=False), ctx.input((4,), requires_grad=False)),
                       RuntimeError, "not broadcastable")]


def _lbfgs_steps(param, grad):
    """Two LBFGS steps (strong-Wolfe line search) on the quadratic ``sum(w * (p - grad)^2)``, where
    the weights ``w`` (1 to 2) make the curvature uneven: its branches read values, and a quartic's
    decisions flip on float32 rounding between backends."""
    p = param.detach().clone().requires_grad_()
    w = pt.linspace(1.0, 2.0, max(p.numel(), 1), dtype=p.dtype, device=p.device)[:p.numel()].reshape(p.shape)
    opt = pt.optim.LBFGS([p], lr=0.5, max_iter=3, history_size=2, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (w * (p - grad) ** 2).sum()
        loss.backward()
        return loss
    for _ in range(2):
        opt.step(closure)
    return p.detach()

def _fused_sgd(params, grads, bufs, *options):
    """``_fused_sgd_`` on copies of the parameters and buffers; returns them updated."""
    ps, bs = [p.clone() for p in params], [b.clone() for b in bufs]
    pt.ops._fused_sgd_(ps, grads, bs, *options)
    return tuple(ps + bs)


def _fused_sgd_samples(ctx):
    def tensors(layouts):
        return [ctx.input(shape, layout=lay, requires_grad=False) for (shape, _, _), lay in zip(_SHAPES, layouts)]
    lays = [lp for _, lp, _ in _SHAPES]
    return [Sample(tensors(lays), tensors([lg for _, _, lg in _SHAPES]), tensors(lays), 0.1, 0.9, 0.0, 0.0, False, False,
                   name="momentum"),
            Sample(tensors(lays), tensors(lays), tensors(lays), 0.05, 0.8, 0.1, 0.01, False, True,
                   name="dampening, weight decay, maximize"),
            Sample(tensors(lays), tensors(lays), tensors(lays), 0.1, 0.9, 0.0, 0.1, True, False, name="nesterov"),
            Sample(tensors(lays), tensors(lays), [], 0.1, 0.0, 0.0, 0.0, False, False, name="no momentum"),
            Sample(tensors(lays), tensors(lays), tensors(lays), _cpu_scalar(0.05), 0.9, 0.0, 0.0, False, False,
                   name="a 0-d cpu tensor learning rate")]


def _cpu_scalar(v):
    return Input(np.array(v, np.float32), pt.float32, on_cpu=True, requires_grad=False)


def _fused_sgd_errors(ctx):
    return [ErrorInput(Sample([ctx.input((3,), requires_grad=False)], [ctx.input((4,), requires_grad=False)],
                              [ctx.input((3,), requires_grad=False)], 0.1, 0.9, 0.0, 0.0, False, False),
                       RuntimeError, "gradient or buffer is")]


def _fused_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *options):
    """``_fused_adam_`` on copies of the parameters and state; returns them updated (the step
    counters, which stay on cpu, as numbers)."""
    copies = [[t.clone() for t in lst] for lst in (params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps)]
    ps, ms, vs, vm, st = copies
    pt.ops._fused_adam_(ps, grads, ms, vs, vm, st, *options)
    return tuple(ps + ms + vs + vm) + tuple(s.item() for s in st)


def _fused_adam_samples(ctx):
    def tensors(layouts, **kw):
        return [ctx.input(shape, layout=lay, requires_grad=False, **kw) for (shape, _, _), lay in zip(_SHAPES, layouts)]

    def steps(k):
        return [Input(np.array(k, np.float32), pt.float32, on_cpu=True, requires_grad=False) for _ in _SHAPES]
    lp = [lp for _, lp, _ in _SHAPES]
    lg = [lg for _, _, lg in _SHAPES]
    return [Sample(tensors(lp), tensors(lg), tensors(lp), tensors(lp, low=0, high=1), [], steps(0),
                   0.01, 0.9, 0.999, 0.0, 1e-8, False, False, False, name="first step"),
            Sample(tensors(lp), tensors(lp), tensors(lp), tensors(lp, low=0, high=1), tensors(lp, low=0, high=1),
                   steps(3), 0.01, 0.8, 0.99, 0.1, 1e-6, True, True, False, name="amsgrad, weight decay, maximize"),
            Sample(tensors(lp), tensors(lg), tensors(lp), tensors(lp, low=0, high=1), [], steps(5),
                   0.01, 0.9, 0.999, 0.05, 1e-8, False, False, True, name="AdamW (decoupled weight decay)"),
            Sample(tensors(lp), tensors(lp), tensors(lp), tensors(lp, low=0, high=1), [], steps(2),
                   _cpu_scalar(0.01), 0.9, 0.999, 0.0, 1e-8, False, False, False,
                   name="a 0-d cpu tensor learning rate")]


def _fused_adam_errors(ctx):
    one = Input(np.array(0, np.float32), pt.float32, on_cpu=True, requires_grad=False)
    return [ErrorInput(Sample([ctx.input((3,), requires_grad=False)], [ctx.input((4,), requires_grad=False)],
                              [ctx.input((3,), requires_grad=False)], [ctx.input((3,), requires_grad=False)], [],
                              [one], 0.01, 0.9, 0.999, 0.0, 1e-8, False, False, False),
                       RuntimeError, "gradient or buffer is")]


ENTRIES = [Entry("_fused_sgd_", samples=_fused_sgd_samples, fn=_fused_sgd, dtypes=OPTIM_DTYPES, differentiable=False,
                 inplace=False, error_inputs=_fused_sgd_errors,
                 doc="SGD's update of a list of parameters in one op (plugtorch/optim/ops.py)"),
           Entry("_fused_adam_", samples=_fused_adam_samples, fn=_fused_adam, dtypes=OPTIM_DTYPES,
                 differentiable=False, inplace=False, error_inputs=_fused_adam_errors,
                 doc="Adam's / AdamW's update of a list of parameters in one op (plugtorch/optim/ops.py)")]
ENTRIES += [Entry(f"optim.{name}", samples=_samples, fn=_steps(cls, opts), dtypes=OPTIM_DTYPES,
                 differentiable=False, inplace=False, error_inputs=_errors,
                 doc=f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in opts.items())}): three steps")
           for name, (cls, opts) in _CASES.items()]
ENTRIES += [Entry(f"optim.{name}", samples=_few_samples, fn=_steps(cls, opts), dtypes=OPTIM_DTYPES,
                  differentiable=False, inplace=False, error_inputs=_errors,
                  doc=f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in opts.items())}): three steps")
            for name, (cls, opts) in _MORE_CASES.items()]
ENTRIES.append(Entry("optim.Muon", samples=_matrix_samples, fn=_steps(pt.optim.Muon, dict(lr=0.02)),
                     dtypes=OPTIM_DTYPES, differentiable=False, inplace=False, error_inputs=_muon_errors,
                     doc="Muon(lr=0.02): three steps (its Newton-Schulz iteration runs in bfloat16)"))
ENTRIES.append(Entry("optim.LBFGS", samples=_few_samples, fn=_lbfgs_steps, dtypes=OPTIM_DTYPES, differentiable=False,
                     inplace=False, error_inputs=_lbfgs_errors,
                     doc="LBFGS(lr=0.5, max_iter=3, history_size=2, line_search_fn='strong_wolfe'): two steps "
                         "(a graph break under --jit: it reads losses and gradients)"))
