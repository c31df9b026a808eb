"""The complex64/complex128 forms of ops that also take real dtypes: each entry reuses its real
entry's samples (shapes, layouts, broadcasting, Python scalars, 0-d cpu tensors) with complex
inputs, plus inf/nan/-0.0 in either part for the elementwise ops. The entries of ops on
autograd's complex allowlist (GRAD) compare gradients with cpu's too; the others check forward
values, shapes, dtypes and devices only (autograd refuses them). Their names are the op's with
" (complex)" (``--op 'add (complex)'``, or ``--op '* (complex)'`` for all)."""
from __future__ import annotations

import plugtorch as pt

from ..entry import COMPLEX_DTYPES, Entry, Sample
from . import indexing, linalg, pointwise, reductions, shape
from .generators import nary_samples, unary_samples

_BASE = {e.name: e for family in (pointwise, reductions, shape, indexing, linalg) for e in family.ENTRIES}

UNARY = ["neg", "abs", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal",
         "sin", "cos", "tan", "sinh", "cosh", "tanh", "sigmoid", "isnan", "isinf", "isfinite", "logical_not",
         "square", "atan", "asin", "acos"]
BINARY = ["add", "sub", "mul", "div", "true_divide", "rsub", "pow", "eq", "ne", "logical_and", "logical_or",
          "logical_xor", "where", "isclose", "equal"]
REDUCTIONS = ["sum", "prod", "mean", "all", "any", "count_nonzero", "cumsum", "cumprod"]
MOVEMENT = ["view", "permute", "expand", "slice", "select", "clone", "contiguous", "flip", "cat", "copy_", "_to_dtype",
            "reshape", "transpose", "stack", "roll", "diagonal", "tril", "index", "index_put", "gather",
            "index_select", "masked_fill", "scatter_add", "nonzero", "_matmul", "matmul", "mm", "bmm", "dot", "outer"]


def _special(k):
    """``k`` (2, 6) inputs whose parts hold inf, nan and -0.0 (each meeting the others)."""
    return lambda ctx: [Sample(*(ctx.input((2, 6), profile="special", seed=j) for j in range(k)),
                               name="inf/nan/-0.0 parts")]


def _mixed(ctx, bool_ok=True):
    """A complex tensor with a real one of each kind, and a real tensor with a complex scalar."""
    real = {d: ctx.input((2, 3), dtype=d, requires_grad=False) for d in (pt.float32, pt.int64, pt.bool)}
    z = ctx.input((2, 3), requires_grad=False)
    return [Sample(z, real[pt.float32]), Sample(real[pt.int64], z),
            Sample(real[pt.float32], 1.5 - 2j, name="real tensor, complex scalar")] + (
        [Sample(z, real[pt.bool], name="bool")] if bool_ok else [])


def _unary_samples(ctx):
    return unary_samples(special=False)(ctx) + _special(1)(ctx)


def _binary_samples(scalars, mixed=True, bool_ok=True):
    nary = nary_samples(2, scalars=scalars, cpu_scalar=mixed)
    return lambda ctx: nary(ctx) + _special(2)(ctx) + (_mixed(ctx, bool_ok) if mixed else [])


def _where_samples(ctx):
    out = []
    for s in nary_samples(2, scalars=(2j,))(ctx) + _special(2)(ctx):
        cond = ctx.input(s.args[0].shape, dtype=pt.bool, requires_grad=False)
        out.append(Sample(cond, *s.args, name=s.name))
    return out


_SAMPLES = dict({n: _unary_samples for n in UNARY}, where=_where_samples,
                pow=_binary_samples((2, 3, -1, 0.5, 2.5, 1 + 1j)),
                **{n: _binary_samples((2, 1.5, -1 + 0.5j, True)) for n in BINARY if n not in ("where", "pow")})
_SAMPLES.update(sub=_binary_samples((2, 1.5, -1 + 0.5j), bool_ok=False),          # (PyTorch refuses bool there)
                rsub=_binary_samples((2, 1.5, -1 + 0.5j), bool_ok=False),
                isclose=_binary_samples((), mixed=False), equal=_binary_samples((), mixed=False))


# pow is exp(b log a): log's rounding is multiplied by |b log a| (20 and more in these samples), in
# NumPy's cpowf too; a product of n complex numbers errs up to sqrt(5) n u (each product sqrt(5) u)
# where the sums' bound that reductions get assumes n u
_TOL = {"pow": {pt.complex64: (3e-5, 1e-5), pt.complex128: (1e-12, 1e-12)},
        "prod": {pt.complex64: (1e-5, 1e-5), pt.complex128: (2e-14, 1e-13)}}
_TOL["cumprod"] = _TOL["prod"]


# the allowlisted ops (autograd/complex_formulas.py) whose complex formulas differ from the real ones
# (the conj()s); the linear ones share their real formulas, and tests/autograd gradchecks them all
GRAD = {"abs", "exp", "log", "tanh", "mul", "div", "sum", "_matmul"}


def _entry(name):
    e = _BASE[name]
    grad = name in GRAD
    return Entry(f"{name} (complex)", op=e.op, fn=e._fn, samples=_SAMPLES.get(name, e.samples), dtypes=COMPLEX_DTYPES,
                 differentiable=grad, complex_grad=grad, compare=e.compare, inplace=e.inplace,
                 tol=_TOL.get(name, e.tol),
                 zero_sign=e.zero_sign and name != "pow", doc=f"{name} on complex inputs")


# (pow's results that underflow to zero take their signs from cos and sin of b log a's imaginary
# part, which for huge inputs hangs on its last bits: zeros' signs are not compared there)


ENTRIES = [_entry(n) for n in UNARY + BINARY + REDUCTIONS + MOVEMENT]
