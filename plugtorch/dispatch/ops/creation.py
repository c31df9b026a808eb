"""Factories and random fills. Kernels receive ``(shape, ..., dtype, device_index)``."""
from __future__ import annotations

import math

from plugtorch import _dtypes
from plugtorch._device import canonical
from plugtorch.dispatch import arguments as A
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.registry import register_op


def _factory_device(op, device, dtype):
    dev = canonical(device)
    from plugtorch.dispatch.dispatcher import _resolve_backend
    be = dev._backend or _resolve_backend(dev)
    M.check_dtype(op, dtype, dev, be)
    return dev


def _full_meta(size, fill_value, *, dtype=None, device=None):
    shape = M.as_shape("full", (size,) if not isinstance(size, (list, tuple)) else size)
    M.check_nonneg_shape("full", shape)
    fill_value = M.scalar_arg("full", fill_value)   # (a NumPy scalar becomes a Python number)
    dt = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.scalar_dtype(fill_value)
    fill_value = A.fit_scalar("full", fill_value, dt)
    M.check_storage_size("full", shape, dt.itemsize)
    dev = _factory_device("full", device, dt)
    return dev, (shape, fill_value, dt, dev.index), dt


register_op("full", _full_meta, tags=("factory",), differentiable=False)


def _empty_meta(size, *, dtype=None, device=None):
    shape = M.as_shape("empty", (size,) if not isinstance(size, (list, tuple)) else size)
    M.check_nonneg_shape("empty", shape)
    dt = _dtypes.to_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
    M.check_storage_size("empty", shape, dt.itemsize)
    dev = _factory_device("empty", device, dt)
    return dev, (shape, dt, dev.index), dt


register_op("empty", _empty_meta, tags=("factory",), differentiable=False)


def _arange_meta(start, end, step, *, dtype=None, device=None):
    start, end, step = (M.scalar_arg("arange", v) for v in (start, end, step))
    if any(isinstance(v, complex) for v in (start, end, step)):
        raise RuntimeError(f"arange(): the bounds and step must be real numbers, got start={start!r}, end={end!r}, "
                           f"step={step!r}")
    for v in (start, end):
        if v != v or v in (math.inf, -math.inf):   # PyTorch: RuntimeError, not Python's OverflowError
            raise RuntimeError(f"arange(): unsupported range: {start} -> {end} (the bounds must be finite)")
    if step == 0 or step != step:
        raise RuntimeError(f"arange(): step must be nonzero (and not nan), got {step}")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange(): upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        dt = _dtypes.get_default_dtype() if any(isinstance(v, float) for v in (start, end, step)) else _dtypes.int64
    else:
        dt = _dtypes.to_dtype(dtype)
        if dt is _dtypes.bool:   # PyTorch has no bool arange ("arange_cpu" not implemented for 'Bool')
            raise M.not_implemented_for("arange", dt, "use an integer dtype and compare, e.g. arange(n) > 0")
    if dt.category == _dtypes._INT:
        start, end, step = _integer_range(start, end, step, dt)
    n = -((start - end) // step) if all(v.__class__ is int for v in (start, end, step)) \
        else math.ceil((end - start) / step)
    M.check_storage_size("arange", (n,), dt.itemsize)
    dev = _factory_device("arange", device, dt)
    return dev, (start, end, step, dt, dev.index), dt


def _integer_range(start, end, step, dt):
    """PyTorch's integer arange: start and step are truncated to ints (int64 truncates end too,
    elsewhere the length comes from the float bounds); returned as the int range a kernel runs.
    Each value must fit int64, the type PyTorch computes integer ranges in (RuntimeError, not
    Python's OverflowError for ``step=inf``)."""
    for v in (start, end, step):
        A.fit_scalar("arange", v, _dtypes.int64)
    ts, tstep = int(start), int(step)
    if tstep == 0:   # PyTorch: ValueError for int64 (other int dtypes repeat start: refused here)
        raise ValueError(f"arange(): step must be nonzero: step={step} truncates to 0 for dtype {dt.name}; "
                         "use a float dtype, or an integer step")
    if dt is _dtypes.int64:
        return ts, int(end), tstep
    n = max(0, math.ceil((end - start) / step))
    return ts, ts + n * tstep, tstep


register_op("arange", _arange_meta, tags=("factory",), differentiable=False)


def _fill_meta_for(op, nparams):
    def meta(input, *params, generator=None):
        if not isinstance(input, M.Tensor):
            raise TypeError(f"{op}(): expected a Tensor, got {type(input).__name__}")
        data = input._data
        if op in ("uniform_", "normal_"):
            if input._dtype.is_complex:   # the kernel fills the (real, imag) pairs, a float view
                data = _real_pairs(input)
            elif not input._dtype.is_floating_point:
                raise M.not_implemented_for(op, input._dtype, "expected a floating-point or complex tensor")
        dev = input._device
        from plugtorch.random import _backend_generator
        gen = _backend_generator(dev, generator)
        return dev, (data, *params, gen), None
    meta.__name__ = op
    return meta


def _real_pairs(input):
    """The native array of ``view_as_real(input)``: the float kernels of ``uniform_`` and
    ``normal_`` fill a complex tensor through it, drawing the real and imaginary parts of each
    element in turn (as PyTorch does, so a seed gives interleaved pairs)."""
    from plugtorch.dispatch.dispatcher import run
    from plugtorch.dispatch.registry import OPS
    return run(OPS["view_as_real"], (input,), {})._data


def _float_dtype(dt):
    return dt.to_real() if dt.is_complex else dt


def _uniform_meta(input, from_=0.0, to=1.0, *, generator=None):
    for name, v in (("from", from_), ("to", to)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"uniform_(): argument '{name}' must be float, not {type(v).__name__}")
    if isinstance(input, M.Tensor) and (input._dtype.is_floating_point or input._dtype.is_complex):
        # PyTorch's bounds (nan fails); a complex tensor's parts are each drawn from [from, to)
        fd = _float_dtype(input._dtype)
        hi = _dtypes.finfo(fd).max
        for name, v in (("from", from_), ("to", to)):
            if not -hi <= v <= hi:
                raise RuntimeError(f"uniform_(): {name} is out of bounds for {fd}: {v} (expected a finite "
                                   f"value in [{-hi}, {hi}])")
        if from_ > to:
            raise RuntimeError(f"uniform_(): expects from <= to, but got from={from_} > to={to}")
        if to - from_ > hi:
            raise RuntimeError(f"uniform_(): expects to-from <= the largest {fd} ({hi}), but found to={to} "
                               f"and from={from_} which result in to-from to exceed the limit")
    return _fill_meta_for("uniform_", 2)(input, float(from_), float(to), generator=generator)


def _normal_meta(input, mean=0.0, std=1.0, *, generator=None):
    if not std >= 0:   # nan too
        raise RuntimeError(f"normal_(): expects std >= 0.0, but found std {std}")
    if isinstance(input, M.Tensor) and input._dtype.is_complex:
        std = std / math.sqrt(2)   # as PyTorch: each part has variance std**2 / 2, so E|z - mean|**2 = std**2
    return _fill_meta_for("normal_", 2)(input, float(mean), float(std), generator=generator)


def _random_meta(input, from_, to, *, generator=None):
    from_, to = A.as_int("random_", "from", from_), A.as_int("random_", "to", to)
    if from_ >= to:
        raise RuntimeError(f"random_(): expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    if isinstance(input, M.Tensor):   # PyTorch: from and to - 1 must be values the dtype holds
        dt = input._dtype
        lo, hi = (0, 1) if dt is _dtypes.bool else A._limits(dt)
        for name, v in (("from", from_), ("to - 1", to - 1)):
            if not lo <= v <= hi:
                raise RuntimeError(f"random_(): {name} is out of bounds for {dt}: {v} is outside [{lo}, {hi}]")
    return _fill_meta_for("random_", 2)(input, from_, to, generator=generator)


register_op("uniform_", _uniform_meta, tags=("random", "inplace"), differentiable=False)
register_op("normal_", _normal_meta, tags=("random", "inplace"), differentiable=False)
register_op("random_", _random_meta, tags=("random", "inplace"), differentiable=False)
