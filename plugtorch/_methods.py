"""Attach op methods, in-place ``_`` variants and operators to ``Tensor``.

Methods are generated from the public functions (which come from the op registry), so a new
op gets its method by being listed here once.

This is the one place where ``Tensor`` is bound late to the layers that use it: ``_tensor``
imports nothing above the dispatcher, and every method that needs the public functions or
autograd (``to``, ``new_*``, ``Tensor(data)``, ``backward``, hooks) is attached here.
"""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes, _indexing, _storage, _tensor_queries, autograd
from plugtorch import _memory_format as MF
from plugtorch import _ops_public as P
from plugtorch._device import canonical
from plugtorch._tensor import Size, Tensor, parse_to_args
from plugtorch.autograd import graph
from plugtorch.autograd.inplace import inplace
from plugtorch.dispatch.dispatcher import binary_operator, dispatch, unary_operator
from plugtorch.dispatch.registry import OPS

# public functions that take the tensor first and become methods of the same name
METHODS = """
abs neg sign exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sin cos tan asin acos atan sinh cosh
tanh sigmoid erf reciprocal floor ceil trunc round isnan isinf isfinite logical_not bitwise_not
add sub mul div floor_divide remainder fmod pow atan2 maximum minimum eq ne lt le gt ge
logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor bitwise_left_shift
bitwise_right_shift sum prod amax amin all any argmax argmin cumsum cumprod sort argsort topk
kthvalue mode clone flip reshape flatten unflatten squeeze unsqueeze transpose t narrow expand_as
broadcast_to contiguous movedim split chunk unbind roll repeat tile index_select masked_fill
masked_select take_along_dim mean var std logsumexp softmax log_softmax max min aminmax norm
count_nonzero clamp clamp_min clamp_max lerp frac nan_to_num square true_divide logaddexp isclose
allclose equal matmul mm bmm dot outer diagonal tril triu gather scatter scatter_add index_put
nonzero index_add index_copy index_fill scatter_reduce select multiply divide subtract
absolute negative arcsin arccos arctan arctan2 clip greater greater_equal less less_equal not_equal
swapaxes swapdims moveaxis fix var_mean std_mean bernoulli
relu sgn fmax fmin addcmul addcdiv isposinf isneginf hypot xlogy logit deg2rad rad2deg float_power
nansum nanmean trace diff mv addmm addmv baddbmm diag repeat_interleave take median nanmedian unique
bincount fliplr flipud ravel msort tensor_split hsplit vsplit dsplit
det inverse slogdet logdet pinverse svd qr cholesky cholesky_solve cholesky_inverse cross
conj conj_physical angle
unfold rot90 kron cummax cummin logcumsumexp unique_consecutive diag_embed diagflat split_with_sizes select_scatter
slice_scatter diagonal_scatter masked_scatter put index_reduce renorm narrow_copy quantile nanquantile histc histogram
cov corrcoef vdot inner dist matrix_power matrix_exp stft istft multinomial
adjoint argwhere unsafe_chunk unsafe_split unsafe_split_with_sizes addr addbmm ger nonzero_static lu lu_solve
as_strided as_strided_scatter triangular_solve solve lstsq symeig eig
geqrf orgqr ormqr
acosh asinh atanh arccosh arcsinh arctanh erfc erfinv lgamma digamma i0 sinc signbit copysign nextafter
heaviside gcd lcm ldexp frexp logaddexp2 mvlgamma positive
isreal igamma igammac
""".split()

# in-place changes of the shape (x.t_() makes x its own transpose): x takes the view's layout
METADATA_INPLACE = "t transpose swapaxes swapdims squeeze unsqueeze as_strided".split()

# in-place variants: x.op_(...) == x.copy_(op(x, ...))
INPLACE = """
abs neg sign exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sin cos tan asin acos atan sinh cosh
tanh sigmoid erf reciprocal floor ceil trunc round logical_not bitwise_not add sub mul div
floor_divide remainder fmod pow atan2 maximum minimum eq ne lt le gt ge logical_and logical_or
logical_xor bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift clamp
clamp_min clamp_max lerp frac nan_to_num square masked_fill index_put scatter scatter_add
index_add index_copy index_fill cumsum cumprod tril triu clip true_divide multiply divide subtract
fix absolute negative arcsin arccos arctan arctan2
relu sgn addcmul addcdiv hypot xlogy logit deg2rad rad2deg float_power addmm addmv baddbmm
masked_scatter put index_reduce renorm scatter_reduce addr addbmm
acosh asinh atanh arccosh arcsinh arctanh erfc erfinv lgamma digamma i0 sinc copysign nextafter heaviside
gcd lcm ldexp mvlgamma
conj_physical greater greater_equal less less_equal not_equal igamma igammac
""".split()


def _method(fn):
    def m(self, *args, **kwargs):
        if kwargs:
            if "axis" in kwargs or "keepdims" in kwargs:
                kwargs = P.numpy_names(fn.__name__, kwargs)
            if "out" in kwargs:   # the function takes out= (as torch's); the method does not (as torch's)
                raise TypeError(f"{fn.__name__}() got an unexpected keyword argument 'out' (Tensor methods take "
                                f"no out=; call plugtorch.{fn.__name__}(..., out=...))")
        return fn(self, *args, **kwargs)
    m.__name__ = m.__qualname__ = fn.__name__
    m.__doc__ = fn.__doc__
    return m


def _sizes_method(name, keyword, pack=False):
    """A method taking sizes or dims as PyTorch's do: ``x.permute(1, 0)``, ``x.permute((1, 0))``,
    ``x.permute([1, 0])`` or ``x.permute(dims=(1, 0))``. ``pack``: the op takes them as one argument."""
    fn = getattr(P, name, None) if pack else None
    op = OPS.get(name)

    def m(self, *args, **kwargs):
        if kwargs:
            if args or len(kwargs) != 1 or keyword not in kwargs:
                bad = next((k for k in kwargs if k != keyword), keyword)
                raise TypeError(f"{name}() got an unexpected keyword argument '{bad}'" if bad != keyword else
                                f"{name}() got '{keyword}' both positionally and as a keyword")
            args = (kwargs[keyword],)
        elif not args:
            raise TypeError(f'{name}() missing 1 required positional argument: "{keyword}" '
                            f"(e.g. x.{name}(0, 1) or x.{name}((0, 1)))")
        if pack:
            return fn(self, args[0] if len(args) == 1 else args)
        return dispatch(op, self, *args)
    m.__name__ = name
    return m


def _inplace_method(name):
    op = OPS.get(name)
    fn = getattr(P, name)
    if op is not None and getattr(fn, "_op", None) is op:   # the op's own function (with out= or not)
        def m(self, *args, **kwargs):
            return inplace(self, op, args, kwargs)
    elif name in ("add", "sub"):
        def m(self, other, *, alpha=1):   # x.add_(y, alpha=a) is x.add_(y * a): the op itself
            if type(alpha) is not int or alpha != 1:   # True and 1.0 are checked too
                other = P._times_alpha(name, self, other, alpha)
            return inplace(self, op, (other,), {})
    else:
        def m(self, *args, **kwargs):
            return inplace(self, _WrapperOp(fn, name), args, kwargs)
    m.__name__ = m.__qualname__ = name + "_"
    return m


def _metadata_inplace_method(name):
    def m(self, *args):
        if self.requires_grad or self.grad_fn is not None:
            raise RuntimeError(f"{name}_(): changing the shape of a tensor that requires grad in place "
                               f"is not supported; use the out-of-place {name}() instead")
        view = getattr(Tensor, name)(self, *args)
        self._data = view._data
        if self._fw_grad is not None:   # forward AD: the tangent takes the new shape too (view's, by its mode)
            self._fw_grad = view._fw_grad
        self._bump_version()   # autograd may have saved self in its old shape (PyTorch bumps too)
        parent_fn = self._view_fn
        if parent_fn is not None:   # keep replaying this view from its base right
            self._view_fn = lambda b: getattr(Tensor, name)(parent_fn(b), *args)
        return self
    m.__name__ = name + "_"
    return m


class _WrapperOp:
    """Lets ``inplace`` call a wrapper function (``add`` with ``alpha=``) like an op."""

    def __init__(self, fn, name):
        self.fn = fn
        self.name = name

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _tensor_from_data(cls, *args, **kwargs):
    # plugtorch.Tensor(data) behaves like plugtorch.tensor(data, dtype=default dtype), and
    # plugtorch.Tensor(2, 3) / Tensor(Size) like PyTorch's legacy constructor: uninitialized, of that shape
    if cls is Tensor and (args or kwargs):
        if args and isinstance(args[0], Tensor):
            return args[0]
        if args and (len(args) > 1 or isinstance(args[0], Size)
                     or isinstance(args[0], int) and not isinstance(args[0], bool)):
            from plugtorch._legacy_types import LEGACY_TYPES
            dtype = kwargs.pop("dtype", None) or _dtypes.get_default_dtype()
            legacy = next((t for t in LEGACY_TYPES.values() if t.dtype is dtype), None)
            if legacy is not None and set(kwargs) <= {"device"}:
                return legacy(*args, **kwargs)
        return P.tensor(*args, dtype=kwargs.pop("dtype", None) or _dtypes.get_default_dtype(), **kwargs)
    return object.__new__(cls)


def _to(self, *args, **kwargs):
    """``to(device=None, dtype=None, non_blocking=False, copy=False, *, memory_format=preserve_format)``,
    or ``to(other)``."""
    if len(args) == 1 and not kwargs and (args[0] is self._dtype or args[0] is self._device):
        return self     # nothing to change (x.float() of a float32 tensor): the argument parsing costs more
    fmt = MF.check("to", kwargs.pop("memory_format", None)) if "memory_format" in kwargs else None
    dev, dtype, copy = parse_to_args(args, kwargs)
    if fmt is not None or not self.is_contiguous():
        return _to_format(self, dev, dtype, copy, fmt)
    return _move(self, dev, dtype, copy)


def _move(self, dev, dtype, copy, fmt=None):
    out = self
    if dtype is not None and self._dtype in _dtypes.float8_dtypes and dev is not None:
        out = _move(self, None, dtype, False)   # convert on cpu first: no other backend holds float8
        return _move(out, dev, None, copy and out is self, fmt)
    if dev is not None:
        dev = canonical(dev)
        if dev is not self._device:
            out = P._to_device(out, dev)
            copy = False
    if dtype is not None:
        dtype = _dtypes.to_dtype(dtype)
        if dtype is not out._dtype:
            out = P._to_dtype(out, dtype)
            copy = False
    if copy:
        out = P.clone(out, memory_format=fmt) if fmt.__class__ is not tuple else MF.copy_as(out, fmt, P.ops.clone)
    return out


def _to_format(self, dev, dtype, copy, fmt):
    # PyTorch's rule: no copy when nothing changes and the layout asked for is the one the strides
    # suggest; otherwise the result is laid out in fmt (preserve: as self is, see _memory_format.preserved)
    want = MF.target(self, fmt)
    if fmt is not None and fmt is not MF.preserve_format and MF.suggest(self) is not want:
        copy = True
    out = _move(self, dev, dtype, copy, want)
    if out is not self and not MF.laid_out(out, want):
        out = MF.copy_as(out, want, P.ops.clone)   # the backend's transfer or cast came back row-major
    return out


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    return P.tensor(data, dtype=dtype or self._dtype, device=device or self._device,
                    requires_grad=requires_grad)


def _new_factory(name):
    fn = getattr(P, name)

    def f(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return fn(*size, **kw, dtype=dtype or self._dtype, device=device or self._device,
                  requires_grad=requires_grad)
    f.__name__ = "new_" + name
    return f


def _backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                      inputs=inputs)


def _conversions_and_autograd():
    Tensor.__new__ = _tensor_from_data
    Tensor.to = _to
    Tensor.new_tensor = _new_tensor
    for name in ("zeros", "ones", "empty", "full"):
        setattr(Tensor, "new_" + name, _new_factory(name))
    Tensor.backward = _backward
    _complex_parts()
    Tensor.retain_grad = graph.retain_grad
    Tensor.register_hook = graph.register_tensor_hook
    Tensor.register_post_accumulate_grad_hook = graph.register_post_accumulate_grad_hook


def _complex_parts():
    # x.real / x.imag are views (x.real = v writes through them), as PyTorch's attributes
    def part(name):
        fn = getattr(P, name)

        def set_part(self, value):
            fn(self).copy_(value)
        return property(fn, set_part, doc=f"The {name} parts of a complex tensor, as a view (see plugtorch.{name}).")
    Tensor.real = part("real")
    Tensor.imag = part("imag")
    Tensor.is_conj = lambda self: False          # conj() computes at once: no lazy conjugate bit
    Tensor.resolve_conj = lambda self: self
    Tensor.resolve_neg = lambda self: self
    Tensor.is_neg = lambda self: False


def where(self, condition, other):
    """``x.where(condition, other)`` is ``where(condition, x, other)``, as PyTorch's method: the tensor
    gives the values where the condition holds (not the condition, as the function's first argument)."""
    return P.where(condition, self, other)


def _install():
    _conversions_and_autograd()
    for name in METHODS:
        setattr(Tensor, name, _method(getattr(P, name)))
    for name, op in OPS.items():   # pointwise unary ops take the memoised fast path
        if ("pointwise" in op.tags and op.meta is not None and len(op.signature.parameters) == 1
                and getattr(getattr(P, name, None), "_op", None) is op):  # not wrapped (round(decimals=))
            setattr(Tensor, name, unary_operator(op))
    for name in INPLACE:
        setattr(Tensor, name + "_", _inplace_method(name))
    for name in METADATA_INPLACE:
        setattr(Tensor, name + "_", _metadata_inplace_method(name))
    from plugtorch._ops_compound import float_power_
    Tensor.float_power_ = float_power_   # the input must hold the result's dtype: no cast back

    # views with varargs shapes
    Tensor.view = _view
    Tensor.permute = _sizes_method("permute", "dims")
    Tensor.expand = _sizes_method("expand", "size")
    Tensor.reshape = _sizes_method("reshape", "shape")
    Tensor.repeat = _sizes_method("repeat", "repeats")
    Tensor.flip = _sizes_method("flip", "dims", pack=True)
    Tensor.tile = _sizes_method("tile", "dims", pack=True)
    Tensor.broadcast_to = _sizes_method("broadcast_to", "size", pack=True)
    Tensor.squeeze = _squeeze
    Tensor.split = _split
    Tensor.slice = lambda self, dim=0, start=None, end=None, step=1: dispatch(OPS["slice"], self, dim, start, end, step)
    Tensor.where = where
    Tensor.view_as = lambda self, other: dispatch(OPS["view"], self, tuple(other.shape))
    Tensor.reshape_as = lambda self, other: dispatch(OPS["reshape"], self, tuple(other.shape))
    Tensor.index_put_ = lambda self, indices, values, accumulate=False: inplace(
        self, OPS["index_put"], (*P._index_put_args(self, indices, values, accumulate), accumulate), {})
    Tensor.copy_ = lambda self, src, non_blocking=False: dispatch(OPS["copy_"], self, src)
    Tensor.uniform_ = lambda self, from_=0.0, to=1.0, *, generator=None: _fill(self, "uniform_", from_, to, generator)
    Tensor.normal_ = lambda self, mean=0.0, std=1.0, *, generator=None: _fill(self, "normal_", mean, std, generator)
    Tensor.random_ = _random_
    Tensor.fill_ = _fill_
    Tensor.zero_ = lambda self: _fill_(self, 0)
    Tensor.bernoulli_ = _bernoulli_
    Tensor.exponential_ = _exponential_
    Tensor.cauchy_ = _cauchy_
    Tensor.log_normal_ = _log_normal_
    Tensor.geometric_ = _geometric_
    Tensor.hardshrink = lambda self, lambd=0.5: _functional().hardshrink(self, lambd)
    Tensor.prelu = _prelu

    Tensor.__getitem__ = _indexing.getitem
    Tensor.__setitem__ = _indexing.setitem
    Tensor.T = property(lambda self: self.permute(tuple(reversed(range(self.ndim)))))
    Tensor.mT = property(_matrix_transpose)
    Tensor.H = property(_conj_transpose)
    Tensor.mH = property(_matrix_adjoint)
    _operators()


def _squeeze(self, *dims, **kwargs):
    """``x.squeeze()``, ``x.squeeze(0)``, ``x.squeeze(0, 2)``, ``x.squeeze((0, 2))``, ``x.squeeze(dim=0)``."""
    if kwargs:
        kwargs = P.numpy_names("squeeze", kwargs)
    return P.squeeze(self, dims[0] if len(dims) == 1 else dims or None, **kwargs) if dims else P.squeeze(self, **kwargs)


def _split(self, split_size=None, dim=0, **kwargs):
    """``x.split(2)``, ``x.split([1, 2], 1)``, ``x.split(split_size=2, dim=1)`` (the method's names)."""
    if kwargs:
        kwargs = P.numpy_names("split", kwargs)
        dim = kwargs.pop("dim", dim)
        if "split_size_or_sections" in kwargs and split_size is None:   # as in torch.split
            split_size = kwargs.pop("split_size_or_sections")
        if kwargs:
            raise TypeError(f"split() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if split_size is None:
        raise TypeError('split() missing 1 required positional argument: "split_size"')
    return P.split(self, split_size, dim)


def _matrix_transpose(self):
    """``x.mT``: the last two dims swapped; the identity on a 0-d tensor, as PyTorch's."""
    if self.ndim < 2:
        if self.ndim == 0:
            return dispatch(OPS["view"], self, ())
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return self.transpose(-2, -1)


def _matrix_adjoint(self):
    """``x.mH``: ``x.mT`` conjugated (complex dtypes), as PyTorch's."""
    if self.ndim == 1:
        raise RuntimeError("tensor.mH is only supported on matrices or batches of matrices. Got 1-D tensor.")
    t = _matrix_transpose(self)
    return t.conj() if self.dtype.is_complex else t


def _conj_transpose(self):
    """``x.H``: the conjugate transpose of a matrix (or a 0-d tensor), as PyTorch's."""
    if self.ndim not in (0, 2):
        hint = " For batches of matrices, consider using tensor.mH" if self.ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self.ndim}-D tensor.{hint}")
    return _matrix_adjoint(self)


def _view(self, *shape, **kwargs):
    if kwargs:
        if shape or len(kwargs) != 1 or not ("size" in kwargs or "dtype" in kwargs):
            raise TypeError(f"view() got an unexpected keyword argument '{next(iter(kwargs))}'")
        shape = tuple(kwargs.values())
    if not shape:
        raise TypeError('view() missing 1 required positional argument: "size" (e.g. x.view(2, 3) or x.view(-1))')
    if len(shape) == 1 and isinstance(shape[0], _dtypes.dtype):
        return _storage.view_dtype(self, shape[0])
    return dispatch(OPS["view"], self, *shape)


def _fill(self, op, a, b, generator):
    from plugtorch.autograd.inplace import check_inplace
    check_inplace(self, op)
    return dispatch(OPS[op], self, a, b, generator=generator)


_UNSET = object()


def _random_(self, from_=None, to=_UNSET, *, generator=None):
    """``random_()``: the integers the dtype holds exactly; ``random_(to)``: [0, to);
    ``random_(from, to)``: [from, to); ``random_(from, None)``: [from, the dtype's top], as PyTorch."""
    from plugtorch.dispatch.arguments import MANTISSA_DIGITS
    if self.dtype.is_complex:   # no bounds to compute: the op's meta refuses complex tensors, with its message
        return _fill(self, "random_", 0, 1, generator)
    if to is _UNSET and from_ is not None:
        from_, to = 0, from_
    elif to is not _UNSET and to is not None:   # random_(from, to), random_(to=to)
        from_ = 0 if from_ is None else from_
    else:                                       # random_(), random_(from, None)
        from_ = 0 if from_ is None else from_
        to = 2 ** MANTISSA_DIGITS[self.dtype] + 1 if self.dtype.is_floating_point else _dtypes.iinfo(self.dtype).max + 1
    return _fill(self, "random_", from_, to, generator)


def _exponential_(self, lambd=1.0, *, generator=None):
    if not lambd > 0:   # nan too
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    if not self.dtype.is_floating_point:
        raise RuntimeError("Exponential distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {self.dtype}")
    u = P.rand_like(self, dtype=_continuous_draws(self, "exponential_"), generator=generator)
    return self.copy_(-(1 - u).log() / lambd)


def _continuous_draws(self, op):
    """Uniform draws in [0, 1) shaped like ``self``, at least float32 (float64 for float64)."""
    import plugtorch as pt
    if not self.dtype.is_floating_point:
        raise NotImplementedError(f"{op}(): not implemented for dtype {self.dtype}; it draws from a continuous "
                                  "distribution: use a floating-point tensor (x.float())")
    return self.dtype if self.dtype is pt.float64 else pt.float32


def _cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill with Cauchy draws: ``median + sigma * tan(pi * (u - 1/2))``, u uniform."""
    import math
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    if not self.dtype.is_floating_point:
        raise RuntimeError("Cauchy distribution is a continuous probability distribution. dtype must be a floating "
                           f"point but you specified {self.dtype}")
    u = P.rand_like(self, dtype=_continuous_draws(self, "cauchy_"), generator=generator)
    return self.copy_(((u - 0.5) * math.pi).tan() * sigma + median)


def _log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill with ``exp(N(mean, std))`` draws."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    z = P.randn_like(self, dtype=_continuous_draws(self, "log_normal_"), generator=generator)
    return self.copy_((z * std + mean).exp())


def _geometric_(self, p, *, generator=None):
    """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    import plugtorch as pt
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    if self.dtype is pt.bool or self.dtype.is_complex:
        raise NotImplementedError(f"geometric_(): not implemented for dtype {self.dtype}; use a real "
                                  "floating-point or integer tensor")
    import math
    u = P.rand_like(self, dtype=pt.float64, generator=generator)
    k = ((1 - u).log() / math.log1p(-p)).ceil().clamp_min(1)   # 1 - u in (0, 1]
    return self.copy_(k)


def _fill_(self, value):
    import plugtorch as pt
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions.")
        v = value.to(self.device, self.dtype)
        if v._vc is not None and v._vc is self._vc:
            v = v.clone()        # x.fill_(x[1]): the value is read once (copy_ would refuse the overlap)
    else:
        v = pt.full((), value, dtype=self.dtype, device=self.device)
    st = self.stride()
    if any(s == 0 and n > 1 for s, n in zip(st, self.shape)):
        # an expanded tensor: every element gets the same value, so PyTorch allows it (copy_
        # refuses); write each memory location once, through the tensor without its repeats
        once = tuple(1 if s == 0 else n for s, n in zip(st, self.shape))
        self.as_strided(once, st, self.storage_offset()).copy_(v)
        return self
    return self.copy_(v)


def _bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 draws, 1 with probability ``p`` (a float, or a tensor broadcastable to self)."""
    import plugtorch as pt
    from plugtorch.autograd.inplace import check_inplace
    check_inplace(self, "bernoulli_")
    if isinstance(p, Tensor):
        # one draw per element of self: p is expanded first (copying a smaller draw would repeat it)
        probs = p.to(self.device).expand(tuple(self.shape))
    else:
        if not 0 <= p <= 1:   # nan too
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        probs = pt.full(tuple(self.shape), p, dtype=pt.float64 if self.dtype is pt.float64 else pt.float32,
                        device=self.device)
    with pt.no_grad():
        return self.copy_(pt.bernoulli(probs, generator=generator))


def _functional():
    from plugtorch.nn import functional   # nn sits above the methods: looked up when called
    return functional


def _prelu(self, weight):
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): argument 'weight' (position 1) must be Tensor, not {type(weight).__name__}")
    return _functional().prelu(self, weight)


def _invert(a):
    if a._dtype.is_floating_point:   # PyTorch checks the operator itself: TypeError, not bitwise_not's error
        raise TypeError(f"~ (operator.invert) is only implemented on integer and Boolean-type tensors, got {a._dtype}")
    return dispatch(OPS["bitwise_not"], a)


# what t == x, t < x, t + x, t @ x ... take (a NumPy scalar as the number it holds, a NumPy array as
# a cpu tensor); any other operand is NotImplemented, as PyTorch's operators answer, so that
# Python asks the operand's own reflected operator (its __radd__, __rmatmul__ ...)
_COMPARABLE = (Tensor, int, float, bool, complex, np.number, np.bool_, np.ndarray)


def _operand(b):
    """An operator's other operand: a NumPy array as a cpu tensor (``arr - t``, ``t += arr``), as
    PyTorch's operators accept it (binary_operator's functions convert it themselves)."""
    return P.as_tensor(b) if b.__class__ is np.ndarray else b


def _matmul_array(t, arr, reflected):
    """``t @ arr`` (``arr @ t`` when ``reflected``) with a NumPy array: in the promoted dtype, as NumPy
    computes it for PyTorch's operator (matmul itself needs one dtype)."""
    b = P.as_tensor(arr)
    d = _dtypes.promote_types(t.dtype, b.dtype)
    t, b = t.to(d), b.to(d)
    return P.matmul(b, t) if reflected else P.matmul(t, b)


def _operators():
    ADD, SUB, MUL, DIV = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"]
    FDIV, REM, POW = OPS["floor_divide"], OPS["remainder"], OPS["pow"]
    T = Tensor
    T.__add__ = T.__radd__ = binary_operator(ADD)
    T.__sub__ = binary_operator(SUB)
    T.__rsub__ = lambda a, b: dispatch(SUB, _operand(b), a) if isinstance(b, _COMPARABLE) else NotImplemented
    T.__mul__ = T.__rmul__ = binary_operator(MUL)
    T.__truediv__ = binary_operator(DIV)
    # as PyTorch's Tensor.__rtruediv__: the reciprocal times the number (it rounds differently
    # from a division in float16: 3.3 / tensor(-54.5, dtype=float16) is -0.060516...). mul is
    # the Python operator function: a Python call hands it the temporary reciprocal with no
    # reference of its own, so the product may reuse its memory (see dispatcher._by_operator)
    mul = MUL.operator[1]
    reciprocal = unary_operator(OPS["reciprocal"])
    T.__rtruediv__ = lambda a, b: mul(reciprocal(a), b) if isinstance(b, _COMPARABLE) else NotImplemented
    T.__floordiv__ = binary_operator(FDIV)
    T.__rfloordiv__ = lambda a, b: dispatch(FDIV, _operand(b), a) if isinstance(b, _COMPARABLE) else NotImplemented
    T.__mod__ = binary_operator(REM)
    T.__rmod__ = lambda a, b: dispatch(REM, _operand(b), a) if isinstance(b, _COMPARABLE) else NotImplemented
    T.__pow__ = binary_operator(POW)
    T.__rpow__ = lambda a, b: dispatch(POW, _operand(b), a) if isinstance(b, _COMPARABLE) else NotImplemented
    T.__matmul__ = lambda a, b: (NotImplemented if not isinstance(b, _COMPARABLE) else P.matmul(a, b)
                                 if b.__class__ is not np.ndarray else _matmul_array(a, b, False))
    T.__rmatmul__ = lambda a, b: (NotImplemented if not isinstance(b, _COMPARABLE) else P.matmul(b, a)
                                  if b.__class__ is not np.ndarray else _matmul_array(a, b, True))
    T.__neg__ = unary_operator(OPS["neg"])
    T.__pos__ = lambda a: a
    T.__abs__ = lambda a: dispatch(OPS["abs"], a)
    T.__invert__ = _invert
    for name, op in (("eq", "eq"), ("ne", "ne"), ("lt", "lt"), ("le", "le"), ("gt", "gt"), ("ge", "ge")):
        o = OPS[op]
        setattr(T, f"__{name}__", (lambda f: lambda a, b: f(a, b) if isinstance(b, _COMPARABLE) else NotImplemented)(binary_operator(o)))
    for name, op in (("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                     ("lshift", "bitwise_left_shift"), ("rshift", "bitwise_right_shift")):
        o = OPS[op]
        setattr(T, f"__{name}__", (lambda o: lambda a, b: dispatch(o, a, _operand(b))
                                   if isinstance(b, _COMPARABLE) else NotImplemented)(o))
        setattr(T, f"__r{name}__", (lambda o: lambda a, b: dispatch(o, _operand(b), a)
                                    if isinstance(b, _COMPARABLE) else NotImplemented)(o))
    for name, meth in (("iadd", "add_"), ("isub", "sub_"), ("imul", "mul_"), ("itruediv", "div_"),
                       ("ifloordiv", "floor_divide_"), ("imod", "remainder_"), ("ipow", "pow_"),
                       ("iand", "bitwise_and_"), ("ior", "bitwise_or_"), ("ixor", "bitwise_xor_"),
                       ("ilshift", "bitwise_left_shift_"), ("irshift", "bitwise_right_shift_")):
        setattr(T, f"__{name}__", (lambda m: lambda a, b: m(a, _operand(b))
                                   if isinstance(b, _COMPARABLE) else NotImplemented)(getattr(T, meth)))
    T.__imatmul__ = lambda a, b: a.copy_(a @ b) if isinstance(b, _COMPARABLE) else NotImplemented



def _polygamma_methods():
    """x.polygamma(n) and x.polygamma_(n): the tensor first, unlike plugtorch.polygamma(n, x)."""
    Tensor.polygamma = lambda self, n: P.polygamma(n, self)
    # (the tensor is polygamma's second argument, which its formula keeps: inplace() clones only a
    # first one, so the wrapper clones it when autograd records)
    Tensor.polygamma_ = lambda self, n: inplace(
        self, _WrapperOp(lambda x, n: P.polygamma(n, x.clone() if x.requires_grad else x), "polygamma"), (n,), {})


_install()
_tensor_queries.install()
_storage.install()
_polygamma_methods()
