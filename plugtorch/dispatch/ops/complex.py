"""Complex numbers: views between complex and real tensors, and the functions built on them.

``view_as_real`` (a complex tensor as its (real, imag) pairs, a last dim of 2) and
``view_as_complex`` (the reverse) are views, as in PyTorch; ``real`` and ``imag`` are selects of
``view_as_real``, so they are views too and writes through them reach the complex tensor.
``conj`` is a copy here (``conj_physical``): PyTorch's lazy conjugate bit is not modelled, so
``is_conj()`` is always False. ``complex``, ``polar`` and ``angle`` are compositions. All of them
are differentiable (autograd/complex_formulas.py, docs/complex.md).

Each op has a cpu kernel; a backend without a kernel for a view refuses it (a copy made elsewhere
would not share memory), and one without complex dtypes refuses them before any kernel runs.

>>> import plugtorch as pt
>>> z = pt.complex(pt.tensor([1., 2.]), pt.tensor([3., -4.]))
>>> z.imag.tolist(), pt.view_as_real(z).tolist()
([3.0, -4.0], [[1.0, 3.0], [2.0, -4.0]])
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.registry import register_op


def _pt():
    import plugtorch
    return plugtorch


def _t(op, x, name="input"):
    if not isinstance(x, M.Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


def refuse_complex_grad(op, x):
    """For an op without a derivative turning ``x`` into a complex result (linalg.eig): RuntimeError if
    ``x`` requires grad (and grad mode is on), since the graph would end silently. Differentiable ops
    need not call it: autograd refuses the ones off its complex allowlist itself."""
    if x._rg:
        from plugtorch.dispatch.dispatcher import grad_state
        if grad_state.enabled:
            raise RuntimeError(f"{op}(): autograd is not supported for complex results in plugtorch yet (the input "
                               "requires grad); compute it under plugtorch.no_grad() or on detached inputs")


def _no_view_kernel(name):
    def refuse(input, *args, **kwargs):
        be = input._backend()
        raise NotImplementedError(
            f"{name}(): the '{be.name}' backend has no kernel for this view (a copy made elsewhere would "
            "not share the tensor's memory); implement it in the backend")
    refuse.__name__ = f"{name}_without_kernel"
    return refuse


# ---- the two views ---------------------------------------------------------------------------
def _view_as_real_meta(input):
    """A complex tensor of shape S as a real one of shape S + (2,): its (real, imag) pairs."""
    _t("view_as_real", input)
    d = input._dtype
    if not d.is_complex:
        raise RuntimeError(f"view_as_real(): is only supported for complex tensors, got {d}; a real "
                           "tensor needs no view (use plugtorch.complex(x, zeros) to make one complex)")
    out = d.to_real()
    return input._device, (input._data, out), out


def _view_as_complex_meta(input):
    """A float32/float64 tensor whose last dim holds (real, imag) pairs as a complex tensor."""
    op = "view_as_complex"
    _t(op, input)
    d = input._dtype
    if d not in (_dtypes.float32, _dtypes.float64):
        raise RuntimeError(f"{op}(): is only supported for float32 and float64 tensors, but got a tensor of "
                           f"dtype {d}")
    shape = input._data.shape
    if not shape or shape[-1] != 2:
        raise RuntimeError(f"{op}(): Tensor must have a last dimension of size 2 (got shape {tuple(shape)})")
    strides = input.stride()
    if input.numel() == 0:   # no memory to reinterpret: any strides do
        strides = (0,) * (len(shape) - 1) + (1,)
    if strides[-1] != 1:
        raise RuntimeError(f"{op}(): Tensor must have a last dimension with stride 1 (got strides {strides}); "
                           "call .contiguous() first")
    if any(s % 2 for s in strides[:-1]) or input.storage_offset() % 2:
        raise RuntimeError(f"{op}(): Tensor must have a stride divisible by 2 for all but last dimension and an "
                           f"even storage offset (got strides {strides}, offset {input.storage_offset()}); "
                           "call .contiguous() first")
    out = d.to_complex()
    M.check_joined_dtype(op, out, input._device)
    return input._device, (input._data, out), out


register_op("view_as_real", _view_as_real_meta, decomposition=_no_view_kernel("view_as_real"),
            tags=("view",))
register_op("view_as_complex", _view_as_complex_meta, decomposition=_no_view_kernel("view_as_complex"),
            tags=("view",))


# ---- conj --------------------------------------------------------------------------------------
def _conj_physical_meta(input):
    _t("conj_physical", input)
    return input._device, (input._data, input._dtype), input._dtype


def _conj_physical(input):
    """The conjugate through the views, for a backend without a kernel: imag parts negated."""
    if not input._dtype.is_complex:
        return input.clone()
    pt = _pt()
    sign = pt.tensor([1.0, -1.0], dtype=input._dtype.to_real(), device=input.device)
    return pt.view_as_complex(pt.view_as_real(input) * sign)


register_op("conj_physical", _conj_physical_meta, decomposition=_conj_physical, tags=("pointwise",))


def _composite(name, differentiable=True, tags=()):
    def deco(fn):
        register_op(name, decomposition=fn, tags=tags, differentiable=differentiable)
        return fn
    return deco


@_composite("conj")
def conj(input):
    """The complex conjugate (imaginary parts negated); a real tensor is returned as it is.

    plugtorch computes it at once (a new tensor): PyTorch's lazy conjugate view is not modelled.

    >>> plugtorch.conj(plugtorch.tensor([1 + 2j])).tolist()
    [(1-2j)]
    """
    _t("conj", input)
    return _pt().ops.conj_physical(input) if input._dtype.is_complex else input


@_composite("real", tags=("view",))
def real(input):
    """The real parts of a complex tensor, as a view (writes reach ``input``); a real tensor itself.

    >>> plugtorch.real(plugtorch.tensor([1 + 2j])).tolist()
    [1.0]
    """
    _t("real", input)
    if not input._dtype.is_complex:
        return input
    return _pt().ops.view_as_real(input).select(-1, 0)


@_composite("imag", tags=("view",))
def imag(input):
    """The imaginary parts of a complex tensor, as a view (writes reach ``input``).

    >>> plugtorch.imag(plugtorch.tensor([1 + 2j])).tolist()
    [2.0]
    """
    _t("imag", input)
    if not input._dtype.is_complex:
        raise RuntimeError(f"imag(): is not implemented for tensors with non-complex dtypes (got {input._dtype}); "
                           "a real tensor's imaginary parts are zeros")
    return _pt().ops.view_as_real(input).select(-1, 1)


def _check_parts(op, a, b, names):
    _t(op, a, names[0])
    _t(op, b, names[1])
    for x in (a, b):
        if x._dtype not in (_dtypes.float32, _dtypes.float64):
            raise RuntimeError(f"{op}(): Expected both inputs to be float32 or float64 tensors but got {a._dtype} "
                               f"and {b._dtype}")
    if a._dtype is not b._dtype:
        raise RuntimeError(f"{op}(): Expected object of scalar type {a._dtype} but got scalar type {b._dtype} for "
                           f"argument '{names[1]}'; convert one with .to()")


def _from_parts(re, im):
    pt = _pt()
    re, im = pt.broadcast_tensors(re, im)
    return pt.view_as_complex(pt.stack([re, im], -1))


@_composite("complex")
def complex(real, imag):
    """The complex tensor ``real + imag * 1j`` (float32 parts give complex64, float64 complex128).

    >>> plugtorch.complex(plugtorch.tensor([1.]), plugtorch.tensor([2.])).tolist()
    [(1+2j)]
    """
    _check_parts("complex", real, imag, ("real", "imag"))
    return _from_parts(real, imag)


@_composite("polar")
def polar(abs, angle):
    """The complex tensor of magnitudes ``abs`` and phases ``angle``: abs * (cos + i sin).

    >>> z = plugtorch.polar(plugtorch.tensor([2.]), plugtorch.tensor([0.]))
    >>> z.tolist()
    [(2+0j)]
    """
    _check_parts("polar", abs, angle, ("abs", "angle"))
    return _from_parts(abs * angle.cos(), abs * angle.sin())


@_composite("angle")
def angle(input):
    """The argument of each element, in radians: atan2(imag, real) of complex input; of real input
    pi for negative values, 0 otherwise (nan stays nan), as a float.

    >>> plugtorch.angle(plugtorch.tensor([1j, -1])).tolist() == [math.pi / 2, math.pi]
    True
    """
    _t("angle", input)
    pt = _pt()
    if input._dtype.is_complex:
        return pt.atan2(imag(input), real(input))
    x = input if input._dtype.is_floating_point else input.to(_dtypes.get_default_dtype())
    return pt.where(x < 0, math.pi, pt.where(x.isnan(), x, 0.0)).to(x._dtype)


# ---- ops that refuse complex input -----------------------------------------------------------
_UNORDERED = "complex numbers have no ordering; compare their .abs() or .real instead"
_REAL_ONLY = "it is defined for real numbers only (as in PyTorch)"
# op name -> why it refuses a complex tensor argument (PyTorch refuses each of them too)
REAL_ONLY_OPS = {
    **dict.fromkeys("lt le gt ge maximum minimum max min amax amin aminmax argmax argmin sort argsort topk "
                    "kthvalue mode cummax cummin clamp clamp_min clamp_max relu threshold_backward max_pool2d".split(), _UNORDERED),
    **dict.fromkeys("floor ceil trunc round frac floor_divide remainder fmod atan2 erf "
                    "softmax log_softmax cross_entropy nll_loss batch_norm layer_norm "
                    "group_norm".split(), _REAL_ONLY),
    "sign": "use plugtorch.sgn (z / |z|) for complex numbers; unlike NumPy, PyTorch's sign refuses them",
    **dict.fromkeys("random_ bernoulli multinomial".split(),
                    "random sampling into or from complex tensors is not implemented; draw the real and imaginary "
                    "parts and combine them with plugtorch.complex"),
}


_COMPLEX_SCALARS = (builtins.complex, np.complexfloating)


def _complex_argument(args, kwargs):
    for a in args:
        if isinstance(a, M.Tensor):
            if a._dtype.category == _dtypes._COMPLEX:
                return a._dtype
        elif a.__class__ is builtins.complex or isinstance(a, _COMPLEX_SCALARS):
            # a Python complex (or NumPy's) makes the op compute in complex (x < 1j)
            return _dtypes.default_complex_dtype()
        elif a.__class__ is list or a.__class__ is tuple:
            for b in a:
                if isinstance(b, M.Tensor) and b._dtype.category == _dtypes._COMPLEX:
                    return b._dtype
    for a in kwargs.values():
        if isinstance(a, M.Tensor) and a._dtype.category == _dtypes._COMPLEX:
            return a._dtype
    return None


def _refusing(name, fn, why):
    def checked(*args, **kwargs):
        d = _complex_argument(args, kwargs)
        if d is not None:
            raise NotImplementedError(f"{name}(): not supported for complex tensors (got {d}): {why}")
        return fn(*args, **kwargs)
    checked.__wrapped__ = fn      # inspect.signature and docs see the original
    checked.__name__, checked.__doc__ = getattr(fn, "__name__", name), fn.__doc__
    return checked


def refuse_complex(ops) -> None:
    """Make the listed registry ops (those registered so far) refuse complex tensor arguments with
    NotImplementedError (a RuntimeError, as PyTorch's) before their meta or decomposition runs."""
    from plugtorch.dispatch.registry import OPS
    for name in ops:
        op = OPS.get(name)
        if op is None or getattr(op.meta or op.decomposition, "_refuses_complex", False):
            continue
        why = REAL_ONLY_OPS[name]
        if op.meta is not None:
            op.meta = _refusing(name, op.meta, why)
            op.meta._refuses_complex = True
        else:
            op.decomposition = _refusing(name, op.decomposition, why)
            op.decomposition._refuses_complex = True
