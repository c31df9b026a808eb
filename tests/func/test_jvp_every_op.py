"""jvp by the double-vjp trick relies on every backward formula being differentiable in its
incoming gradient (formulas written with plugtorch ops). Check it for every differentiable op of
the registry with the dot-product test: <u, J v> from func.jvp equals <J^T u, v> from func.vjp,
for random u and v (float64; the op samples of tests/autograd/op_samples.py with real inputs)."""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch.func import jvp, vjp
from plugtorch.func._pytree import tree_flatten

from tests.autograd.op_samples import SAMPLES, as_function, flat_inputs


def _float_outputs(f):
    def g(*a):
        return tuple(o for o in tree_flatten(f(*a))[0] if isinstance(o, pt.Tensor) and o.is_floating_point())
    return g


def _randn_like(rng, t):
    return pt.tensor(rng.standard_normal(tuple(t.shape)), dtype=t.dtype)


def test_jvp_equals_the_transposed_vjp_for_every_differentiable_op():
    bad = []
    for name in sorted(SAMPLES):
        s = SAMPLES[name](np.random.default_rng(0))
        f = _float_outputs(as_function(name, s))
        primals = tuple(i.detach() for i in flat_inputs(s))
        if not all(p.is_floating_point() for p in primals):
            continue    # complex inputs: plugtorch.func differentiates real tensors
        rng = np.random.default_rng(1)
        v = tuple(_randn_like(rng, p) for p in primals)
        out, jv = jvp(f, primals, v)
        u = tuple(_randn_like(rng, o) for o in out)
        _, vjp_fn = vjp(f, *primals)
        lhs = sum(float((a * b).sum()) for a, b in zip(u, jv))
        rhs = sum(float((a * b).sum()) for a, b in zip(vjp_fn(u), v))
        if not np.isclose(lhs, rhs, rtol=1e-9, atol=1e-10):
            bad.append((name, lhs, rhs))
    assert len(SAMPLES) > 200 and not bad, bad
