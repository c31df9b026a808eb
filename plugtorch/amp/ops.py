"""GradScaler's two device-side steps, declared as composite ops of the registry.

``_amp_foreach_non_finite_check_and_unscale_`` multiplies every gradient of a list by
``inv_scale`` and sets ``found_inf`` to 1 if any of them held an inf or NaN;
``_amp_update_scale_`` grows or backs off the scale from ``found_inf``. Both are named and
behave as PyTorch's. Their decompositions are written with plugtorch ops that leave the flag
on the device, so every backend runs them without a host read per gradient; a backend may
register a kernel under the same name that does the whole list in one pass (cpu does). The
conformance entries of the same names compare the two on every backend.

>>> import plugtorch as pt
>>> grads, found = [pt.tensor([2., 4.]), pt.tensor([float("inf")])], pt.zeros(())
>>> pt.ops._amp_foreach_non_finite_check_and_unscale_(grads, found, pt.tensor(0.5))
>>> grads[0].tolist(), found.item()
([1.0, 2.0], 1.0)
"""
from __future__ import annotations

from plugtorch import _dtypes, _ops_public
from plugtorch._tensor import Tensor
from plugtorch.dispatch.meta import device_mismatch
from plugtorch.optim.ops import _register   # registers an in-place op on lists, as the fused optimizer updates

_F32 = _dtypes.float32


def foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale):
    """Multiply each tensor of ``grads`` by ``inv_scale`` in place; set ``found_inf`` to 1.0 if
    any held an inf or NaN before (it is never reset here, as in PyTorch)."""
    if not grads:
        return
    inv = inv_scale.reshape(())
    flags = []
    for g in grads:
        flags.append(g.isfinite().all())      # checked before the multiply, as PyTorch's kernels
        g.mul_(inv)
    bad = (flags[0] if len(flags) == 1 else _ops_public.stack(flags).all()).logical_not()
    found_inf.copy_(found_inf.maximum(bad.to(_F32).reshape(found_inf.shape)))


def _check_one_float(op, name, t, dtypes):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): {name} must be a Tensor, got {type(t).__name__}")
    if t.numel() != 1:
        raise RuntimeError(f"{op}(): {name} must be a 1-element tensor, got shape {tuple(t.shape)}")
    if t._dtype not in dtypes:
        raise RuntimeError(f"{op}(): {name} must be a float tensor ({' or '.join(map(str, dtypes))}), "
                           f"got {t._dtype}")


def _non_finite_meta(grads, found_inf, inv_scale):
    """found_inf and inv_scale: 1-element float32 tensors on the gradients' device. A kernel
    receives the gradients' native arrays, found_inf's, inv_scale's and the gradients' dtypes."""
    op = "_amp_foreach_non_finite_check_and_unscale_"
    _check_one_float(op, "found_inf", found_inf, (_F32,))
    _check_one_float(op, "inv_scale", inv_scale, (_F32,))
    dev = found_inf._device
    if inv_scale._device is not dev:
        raise device_mismatch(op, dev, inv_scale._device)
    for i, g in enumerate(grads):
        if not isinstance(g, Tensor):
            raise TypeError(f"{op}(): expected a list of Tensors, got a {type(g).__name__} at index {i}")
        if g._device is not dev:
            raise device_mismatch(op, dev, g._device)
        if not g._dtype.is_floating_point:
            raise RuntimeError(f"{op}(): gradient {i} has dtype {g._dtype}; only floating point gradients "
                               "are unscaled")
    return dev, ([g._data for g in grads], found_inf._data, inv_scale._data, [g._dtype for g in grads]), None


def update_scale_(scale, growth_tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    """GradScaler's update, in place: after an inf/NaN (``found_inf`` > 0) the scale is multiplied
    by ``backoff_factor`` and the tracker reset; otherwise the tracker counts the step and, at
    ``growth_interval`` clean steps in a row, the scale grows by ``growth_factor`` (if still
    finite) and the tracker restarts from 0."""
    found = found_inf.reshape(scale.shape) > 0
    successful = growth_tracker + 1
    grow = successful == growth_interval
    grown = scale * growth_factor
    kept = _ops_public.where(grow & grown.isfinite(), grown, scale)
    scale.copy_(_ops_public.where(found, scale * backoff_factor, kept))
    growth_tracker.copy_(_ops_public.where(found | grow, growth_tracker * 0, successful))


def _update_scale_meta(scale, growth_tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    """scale: a 1-element float32 tensor; growth_tracker: a 1-element int32 tensor; found_inf:
    1-element float32; all on one device. A kernel receives the three native arrays and the
    three numbers."""
    op = "_amp_update_scale_"
    _check_one_float(op, "current_scale", scale, (_F32,))
    _check_one_float(op, "found_inf", found_inf, (_F32,))
    if not isinstance(growth_tracker, Tensor) or growth_tracker._dtype is not _dtypes.int32:
        got = growth_tracker._dtype if isinstance(growth_tracker, Tensor) else type(growth_tracker).__name__
        raise RuntimeError(f"{op}(): growth_tracker must be an int tensor (int32), got {got}")
    if growth_tracker.numel() != 1 or growth_tracker.shape != scale.shape:
        raise RuntimeError(f"{op}(): growth_tracker must be a 1-element tensor of current_scale's shape "
                           f"{tuple(scale.shape)}, got shape {tuple(growth_tracker.shape)}")
    dev = scale._device
    for t in (growth_tracker, found_inf):
        if t._device is not dev:
            raise device_mismatch(op, dev, t._device)
    return dev, (scale._data, growth_tracker._data, found_inf._data, float(growth_factor), float(backoff_factor),
                 int(growth_interval)), None


non_finite_check_and_unscale_ = _register("_amp_foreach_non_finite_check_and_unscale_", _non_finite_meta,
                                          foreach_non_finite_check_and_unscale_, lambda a: [*a[0], a[1]])
update_scale = _register("_amp_update_scale_", _update_scale_meta, update_scale_, lambda a: [a[0], a[1]])
