"""Gradient clipping, in place on each parameter's ``.grad``.

>>> import plugtorch as pt
>>> p = pt.nn.Parameter(pt.zeros(2)); p.grad = pt.tensor([3., 4.])
>>> pt.nn.utils.clip_grad_norm_([p], 1.0).item(), [round(g, 4) for g in p.grad.tolist()]
(5.0, [0.6, 0.8])
"""
from __future__ import annotations

import types
import warnings

import plugtorch as pt


def _grads(parameters):
    if isinstance(parameters, pt.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


@pt.no_grad()
def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None):
    """The norm of all ``tensors`` together, as if concatenated (computed under ``no_grad``)."""
    if isinstance(tensors, pt.Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return pt.tensor(0.0)
    dev = tensors[0].device
    norms = pt.stack([pt.linalg.vector_norm(t, norm_type).to(dev) if hasattr(pt, "linalg")
                      else t.norm(norm_type).to(dev) for t in tensors])
    total = pt.linalg.vector_norm(norms, norm_type) if hasattr(pt, "linalg") else norms.norm(norm_type)
    if error_if_nonfinite and bool(total.isnan() | total.isinf()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None):
    """Scale all gradients so their joint norm is at most ``max_norm``; returns the norm before clipping."""
    max_norm, norm_type = float(max_norm), float(norm_type)   # bad values fail even without gradients
    if not isinstance(parameters, pt.Tensor):
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    grads = _grads(parameters)
    if not grads:
        return pt.tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    _scale(grads, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None):
    """Deprecated alias of :func:`clip_grad_norm_`, kept for old code (warns ``FutureWarning``)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@pt.no_grad()
def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale every ``.grad`` by ``min(max_norm / (total_norm + 1e-6), 1)``, given a norm computed beforehand
    (say by :func:`get_total_norm`, or all-reduced across ranks).

    >>> import plugtorch as pt
    >>> p = pt.nn.Parameter(pt.zeros(2)); p.grad = pt.tensor([3., 4.])
    >>> pt.nn.utils.clip_grads_with_norm_([p], 1.0, pt.tensor(10.0)); [round(g, 4) for g in p.grad.tolist()]
    [0.3, 0.4]
    """
    max_norm = float(max_norm)
    grads = _grads(parameters)
    if grads:
        _scale(grads, max_norm, total_norm)


@pt.no_grad()
def _scale(grads, max_norm: float, total_norm) -> None:
    if not isinstance(total_norm, pt.Tensor):
        raise TypeError(f"clip_grads_with_norm_: total_norm must be a Tensor (say from get_total_norm), "
                        f"got {type(total_norm).__name__}")
    coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.to(g.device))


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with pt.no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
