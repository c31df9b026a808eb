"""PyTorch's top-level in-place forms: ``plugtorch.exp_(x)`` is ``x.exp_()``, ``plugtorch.clamp_(x, 0, 1)``
is ``x.clamp_(0, 1)`` (the methods, from ``_methods.INPLACE``, do the work: version counters,
autograd's checks).

>>> import plugtorch as pt
>>> x = pt.tensor([-1.0, 2.0]); _ = pt.relu_(x); x.tolist()
[0.0, 2.0]
"""
from __future__ import annotations

from plugtorch import _ops_public as P
from plugtorch.dispatch.registry import OPS

# every <name>_ torch has at top level whose method plugtorch has (the nn ones, dropout_,
# celu_, selu_, rrelu_, threshold_, come from nn.functional; fill_, zero_ ... from _ops_aliases)
NAMES = """
abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ as_strided_ asin_ asinh_ atan_
atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ conj_physical_ cos_ cosh_ deg2rad_ erf_ erfc_ exp2_ exp_ expm1_
fix_ floor_ frac_ gcd_ i0_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_
reciprocal_ relu_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ xlogy_
""".split()

__all__ = []


def _inplace_function(name):
    def fn(input, *args, **kwargs):
        from plugtorch._tensor import Tensor
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)``: ``{name[:-1]}`` written into ``input``, which is returned."
    base = name[:-1]
    P.PUBLIC_TO_OP[name] = P.PUBLIC_TO_OP.get(base, base) if P.PUBLIC_TO_OP.get(base, base) in OPS else "copy_"
    __all__.append(name)
    return fn


for _name in NAMES:
    globals()[_name] = _inplace_function(_name)
