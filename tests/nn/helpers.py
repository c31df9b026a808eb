"""Helpers for the nn tests: float64 tensors and a one-backward gradcheck."""
import numpy as np

import plugtorch as pt


def t64(a, rg=False):
    return pt.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg)


def scalar_gradcheck(fn, *inputs, seed=0, **kw):
    """gradcheck of sum(fn(*inputs) * R) for a fixed random R: one backward per check, not one per output."""
    out = fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    rng = np.random.default_rng(seed)
    weights = [pt.tensor(rng.standard_normal(tuple(o.shape))) for o in outs if o is not None and o.dtype.is_floating_point]

    def f(*args):
        res = fn(*args)
        res = res if isinstance(res, tuple) else (res,)
        res = [r for r in res if r is not None and r.dtype.is_floating_point]
        return sum((r * w).sum() for r, w in zip(res, weights))
    assert pt.autograd.gradcheck(f, inputs, **kw)
