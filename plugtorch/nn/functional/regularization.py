"""Dropout: zero elements (or whole channels) with probability p and scale the rest by 1/(1-p).

>>> import plugtorch as pt
>>> pt.nn.functional.dropout(pt.ones(3), 0.5, training=False).tolist()
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

import math
import warnings

import plugtorch as pt
from plugtorch.nn.functional._utils import check_tensors


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p != p:   # nan passes the comparisons above; PyTorch's kernel refuses it (RuntimeError)
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def _apply_mask(input, mask_shape, p, inplace):
    if p == 1.0:
        out = input * 0
    else:
        keep = pt.empty(mask_shape, dtype=input.dtype, device=input.device).bernoulli_(1 - p)
        out = input * (keep / (1 - p))
    return input.copy_(out) if inplace else out


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    check_tensors("dropout", input=input)
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply_mask(input, tuple(input.shape), p, inplace)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels: one draw per (N, C) of an (N, C, H, W) input.

    A 3-D input is taken as (N, C, L) with one draw per (N, C), as PyTorch does today (with its warning).
    """
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will "
                      "result in an error in a future release. To retain the behavior and silence this warning, "
                      "please use dropout instead. Note that dropout2d exists to provide channel-wise dropout on "
                      "inputs with 2 spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).", UserWarning, stacklevel=2)
    elif input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.", UserWarning, stacklevel=2)
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _apply_mask(input, shape, p, inplace)


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout that keeps SELU's self-normalising mean and variance."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:   # everything dropped: zeros, as PyTorch (the affine correction divides by 1 - p)
        out = input * 0
        return input.copy_(out) if inplace else out
    alpha = -1.7580993408473766
    keep = pt.empty(tuple(input.shape), dtype=input.dtype, device=input.device).bernoulli_(1 - p)
    a = ((1 - p) * (1 + p * alpha * alpha)) ** -0.5
    b = -a * alpha * p
    out = (input * keep + alpha * (1 - keep)) * a + b
    return input.copy_(out) if inplace else out


def _channel_dropout(op, nd, input, p, training, inplace, alpha=False):
    """Zero (or, for alpha dropout, set to SELU's saturation) whole channels of an input with ``nd``
    spatial dims and an optional batch dim: one draw per (N, C)."""
    check_tensors(op, input=input)
    _check_p(p)
    batched = input.ndim == nd + 2
    if not training or p == 0.0:
        return input
    lead = tuple(input.shape[:2]) if batched else tuple(input.shape[:1])
    shape = lead + (1,) * (input.ndim - len(lead))
    if not alpha:
        return _apply_mask(input, shape, p, inplace)
    if p == 1.0:
        out = input * 0
        return input.copy_(out) if inplace else out
    a_const = 1.7580993408473766
    keep = pt.empty(shape, dtype=input.dtype, device=input.device).bernoulli_(1 - p)
    a = 1.0 / math.sqrt((a_const * a_const * p + 1) * (1 - p))
    out = input * (keep * a) + (keep - 1) * (a_const * a) + a_const * a * p
    return input.copy_(out) if inplace else out


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, L) or (C, L), scaling the rest by 1/(1-p).

    >>> pt.nn.functional.dropout1d(pt.ones(2, 3), 0.5, training=False).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    check_tensors("dropout1d", input=input)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _channel_dropout("dropout1d", 1, input, p, training, inplace)


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W), scaling the rest by 1/(1-p)."""
    check_tensors("dropout3d", input=input)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and will "
                      "result in an error in a future release. To retain the behavior and silence this warning, "
                      "please use dropout instead. Note that dropout3d exists to provide channel-wise dropout on "
                      "inputs with 3 spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 4D or 5D inputs).", UserWarning, stacklevel=2)
        _check_p(p)
        if not training or p == 0.0:
            return input
        return _apply_mask(input, tuple(input.shape[:2]) + (1,) * (input.ndim - 2), p, inplace)
    return _channel_dropout("dropout3d", 3, input, p, training, inplace)


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Alpha dropout of whole channels (one draw per (N, C)), keeping SELU's mean and variance."""
    check_tensors("feature_alpha_dropout", input=input)
    _check_p(p)
    if input.ndim < 2:
        raise RuntimeError(f"feature_alpha_dropout(): Feature dropout requires at least 2 dimensions in the input, "
                           f"but got input of size {list(input.shape)}")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    return _channel_dropout("feature_alpha_dropout", input.ndim - 2, input, p, training, inplace, alpha=True)
