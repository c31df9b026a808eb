"""Loss functions with PyTorch's reductions ('none', 'mean', 'sum') and argument checks.

>>> import plugtorch as pt
>>> pt.nn.functional.mse_loss(pt.tensor([1., 2.]), pt.tensor([1., 4.])).item()
2.0
"""
from __future__ import annotations

import math
import warnings

import plugtorch as pt
from plugtorch.dispatch.dispatcher import data_check
from plugtorch.dispatch.arguments import as_int
from plugtorch.dispatch.meta import LEGACY_NAMES, not_implemented_for
from plugtorch.nn.functional._utils import (check_optional_tensors, check_reduction, check_tensors, legacy_reduction,
                                            user_stacklevel)
from plugtorch.nn.functional._utils import reduce as _reduce


def _check_same_size(input, target):
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"Using a target size ({pt.Size(target.shape)}) that is different to the input size "
                      f"({pt.Size(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", UserWarning, stacklevel=user_stacklevel())


def _floating_pair(op, input, target):
    """The regression losses' dtype rule, as PyTorch's kernels: computed in the promoted dtype of
    input and target, which must be floating point (integers and bool raise NotImplementedError,
    whatever the reduction); a bool operand beside a float one is taken as 0/1 in that dtype."""
    dt = pt.result_type(input, target)
    if not (dt.is_floating_point or dt.is_complex):
        raise not_implemented_for(op, dt, f"got input {input.dtype} and target {target.dtype}; the loss is "
                                          "computed in floating point: convert them with .float()")
    if input.dtype is pt.bool:
        input = input.to(dt)
    if target.dtype is pt.bool:
        target = target.to(dt)
    return input, target


def _check_floating_input(op, input, error=NotImplementedError):
    """The losses whose PyTorch kernels take only floating point inputs (scores, logits)."""
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        if error is NotImplementedError:
            raise not_implemented_for(op, input.dtype, "the input holds scores: convert it with .float()")
        raise error(f"{op}(): expected a floating point input, got {input.dtype}; convert it with .float()")


def _check_weight_size(input, weight):
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"Weights and input must have the same size. (got weight {list(weight.shape)} for input "
                         f"{list(input.shape)})")


def _weighted_mean_reduce(loss, weight, reduction):
    """PyTorch's weighted mse_loss and l1_loss: 'mean' is the weighted mean, sum(w l) / sum(w)."""
    if weight is None:
        return _reduce(loss, reduction)
    check_reduction(reduction)
    loss = loss * weight
    return loss.sum() / weight.sum() if reduction == "mean" else _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target)^2; with ``weight`` (input's shape), 'mean' is sum(w d^2) / sum(w)."""
    check_tensors("mse_loss", input=input, target=target)
    check_optional_tensors("mse_loss", weight=weight)
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target)
    _check_weight_size(input, weight)
    input, target = _floating_pair("mse_loss", input, target)
    d = input - target
    return _weighted_mean_reduce(d * d, weight, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|input - target|; with ``weight`` (input's shape), 'mean' is sum(w |d|) / sum(w)."""
    check_tensors("l1_loss", input=input, target=target)
    check_optional_tensors("l1_loss", weight=weight)
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target)
    _check_weight_size(input, weight)
    return _weighted_mean_reduce((input - target).abs(), weight, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    check_tensors("smooth_l1_loss", input=input, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _check_same_size(input, target)
    input, target = _floating_pair("smooth_l1_loss", input, target)
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    q = d.clamp_max(beta)   # the quadratic piece on a clamped d: at d = inf its unchosen gradient is 0, not 0 * inf
    return _reduce(pt.where(d < beta, q * q * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    check_tensors("huber_loss", input=input, target=target)
    check_optional_tensors("huber_loss", weight=weight)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _check_same_size(input, target)
    _check_weight_size(input, weight)   # (its weighted 'mean' is the plain mean of w l, as PyTorch's)
    input, target = _floating_pair("huber_loss", input, target)
    d = (input - target).abs()
    q = d.clamp_max(delta)   # (at d = inf the quadratic piece's unchosen gradient is 0, not 0 * inf)
    loss = pt.where(d < delta, q * q * 0.5, (d - 0.5 * delta) * delta)
    return _reduce(loss if weight is None else loss * weight, reduction)


def _class_weight(weight, ndim):
    """Reshape a per-class weight to broadcast against (N, C, d1, ...)."""
    return weight.reshape((weight.shape[0],) + (1,) * (ndim - 2)) if ndim > 1 else weight


def check_ignore_index(op, ignore_index):
    """ignore_index is an int (PyTorch's TypeError for 0.5 or True, which would match no target or
    target 1); a NumPy integer or a one-element integer tensor is taken as its value."""
    if ignore_index.__class__ is int:
        return ignore_index
    if isinstance(ignore_index, bool):
        raise TypeError(f"{op}(): argument 'ignore_index' must be int, not bool")
    return as_int(op, "ignore_index", ignore_index)


def _check_targets(op, input, target, ignore_index):
    n_classes = check_target_shape(op, input, target)
    bad = ((target < 0) | (target >= n_classes)) & (target != ignore_index)
    if target.numel():
        data_check(bad.any(), IndexError, "Target out of bounds.",
                   lambda: f" (target {int(target[bad].reshape(-1)[0])}; classes are 0 to {n_classes - 1})")
    return n_classes


def check_target_shape(op, input, target):
    """The class-index target's shape and dtype checks; returns the number of classes."""
    n_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError(f"{op}: 1D input (unbatched) expects a 0-D target, got target of size {list(target.shape)}")
    elif target.ndim == 0 or input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    elif tuple(target.shape) != tuple(input.shape[:1]) + tuple(input.shape[2:]):
        raise RuntimeError(f"{op}: expected target of size {list(input.shape[:1]) + list(input.shape[2:])}, "
                           f"got {list(target.shape)}")
    if target.dtype.is_floating_point or target.dtype is pt.bool:
        raise RuntimeError(f"{op}: expected target of an integer dtype (class indices), got {target.dtype}")
    return n_classes


def nll_checks(input, target, weight, size_average, reduce, reduction, op="nll_loss"):
    """nll_loss's argument checks but the target's values (shared with the op's meta); returns
    the reduction."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    c = check_target_shape("nll_loss", input, target)
    if weight is not None and weight.numel() != c:
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                           f"weight tensor of shape: {list(weight.shape)}")
    if weight is not None and weight.dtype is not input.dtype:   # PyTorch refuses rather than cast
        raise RuntimeError(f"{op}(): expected scalar type {LEGACY_NAMES.get(input.dtype.name, input.dtype.name)} "
                           f"but found {LEGACY_NAMES.get(weight.dtype.name, weight.dtype.name)}: the class weight "
                           f"({weight.dtype}) must have the input's dtype ({input.dtype}); convert it with "
                           f".to({input.dtype})")
    return reduction


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """-input[n, target[n]] (times the class weight); 'mean' divides by the summed weights."""
    reduction = nll_checks(input, target, weight, size_average, reduce, reduction)
    ignore_index = check_ignore_index("nll_loss", ignore_index)
    _check_targets("nll_loss", input, target, ignore_index)
    cdim = 1 if input.ndim > 1 else 0
    keep = target != ignore_index
    safe = pt.where(keep, target, 0)
    picked = -input.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)
    w = keep.to(input.dtype)
    if weight is not None:
        w = w * weight.to(input.dtype)[safe]
    loss = picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


def check_no_ignore_index_for_probabilities(ignore_index, dtype):
    """Class probabilities hold no class index to compare ``ignore_index`` with: PyTorch refuses a
    non-negative one rather than ignore nothing."""
    if ignore_index >= 0:
        raise RuntimeError(f"cross_entropy: ignore_index is not supported for floating point target "
                           f"(got ignore_index={ignore_index} with {dtype} class probabilities); "
                           f"leave ignore_index at its default -100")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over the class dim (1, or 0 for unbatched input) followed by the NLL.

    ``target`` holds class indices (integer dtype) or class probabilities (same shape as input).
    """
    check_tensors("cross_entropy", input=input, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    ignore_index = check_ignore_index("cross_entropy", ignore_index)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    cdim = 1 if input.ndim > 1 else 0
    logp = pt.log_softmax(input, cdim)
    c = input.shape[cdim]
    if target.dtype.is_floating_point:
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(f"cross_entropy: expected target of the same shape as input for class "
                               f"probabilities, got input {list(input.shape)} and target {list(target.shape)}")
        check_no_ignore_index_for_probabilities(ignore_index, target.dtype)
        if weight is not None and weight.numel() != c:   # else _class_weight would broadcast it silently
            raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {c} classes or no "
                               f"classes but got weight tensor of shape: {list(weight.shape)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        prod = logp * target
        if weight is not None:
            prod = prod * _class_weight(weight, input.ndim)
        loss = -prod.sum(cdim)
        if reduction == "mean":
            return loss.sum() / (input.numel() // c) if input.numel() else loss.sum() * float("nan")
        return _reduce(loss, reduction)
    nll = pt.nn.functional.nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    keep = target != ignore_index
    wl = logp * _class_weight(weight, input.ndim) if weight is not None else logp
    smooth = pt.where(keep, -wl.sum(cdim), 0.0)
    if reduction == "mean":
        if weight is not None:
            denom = (weight[pt.where(keep, target, 0)] * keep.to(weight.dtype)).sum()
        else:
            denom = keep.sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / c)


def _clamped_log(x):
    # log clamped at -100, with a finite gradient at x == 0
    pos = x > 0
    return pt.where(pos, pt.where(pos, x, 1.0).log().clamp_min(-100.0), -100.0)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(y log x + (1 - y) log(1 - x)), each log clamped at -100 as in PyTorch."""
    check_tensors("binary_cross_entropy", input=input, target=target)
    check_optional_tensors("binary_cross_entropy", weight=weight)
    reduction = legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({pt.Size(target.shape)}) that is different to the input size "
                         f"({pt.Size(input.shape)}) is deprecated. Please ensure they have the same size.")
    if target.dtype is not input.dtype:
        raise RuntimeError(f"binary_cross_entropy(): Found dtype {target.dtype} but expected {input.dtype} (the "
                           "target's dtype must be the input's: convert it with .to(input.dtype))")
    if not input.dtype.is_floating_point:
        raise not_implemented_for("binary_cross_entropy", input.dtype, "probabilities are floats: use .float()")
    if input.numel():
        data_check(((input < 0) | (input > 1)).any(), RuntimeError, "all elements of input should be between 0 and 1")
    if target.numel():
        data_check(((target < 0) | (target > 1)).any(), RuntimeError,
                   "binary_cross_entropy(): all elements of target should be between 0 and 1")
    log_x = _clamped_log(input)
    log_1x = _clamped_log(1 - input)
    loss = -(target * log_x + (1 - target) * log_1x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + BCE in one stable formula: (1 - y) x + (1 + (pw - 1) y) * softplus(-x)."""
    check_tensors("binary_cross_entropy_with_logits", input=input, target=target)
    check_optional_tensors("binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    reduction = legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({pt.Size(target.shape)}) must be the same as input size "
                         f"({pt.Size(input.shape)})")
    _check_floating_input("binary_cross_entropy_with_logits", input)
    if not (target.dtype.is_floating_point or target.dtype.is_complex):
        raise RuntimeError(f"binary_cross_entropy_with_logits(): expected a floating point target (probabilities), "
                           f"got {target.dtype}; convert it with .to(input.dtype)")
    softplus_neg = _softplus_neg(input)
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _softplus_neg(x):
    """log(1 + exp(-x)) = -log sigmoid(x), stable: max(-x, 0) + log1p(exp(-|x|)) with both kinks'
    sides chosen by one test, so at x = 0 the gradient is sigmoid(0) - 1 = -0.5 (relu's and abs's
    subgradients 0 gave 0) and the second derivative sigmoid'(0) = 0.25."""
    pos = x >= 0
    return pt.where(pos, 0.0, -x) + pt.where(pos, -x, x).exp().log1p()


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """target * (log target - input) pointwise (``input`` holds log-probabilities)."""
    check_tensors("kl_div", input=input, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, ("none", "mean", "sum", "batchmean"))
    if not all(t.dtype.is_floating_point or t.dtype.is_complex for t in (input, target)):
        raise RuntimeError(f"kl_div: Integral inputs not supported. (got input {input.dtype} and target "
                           f"{target.dtype}: convert them with .float())")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=user_stacklevel())
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy(target, target) - target * input, as PyTorch: 0 where target is 0, nan where it is negative
        # (zeros_like: in target's dtype, so bfloat16 stays bfloat16)
        pos = target > 0
        zero_or_nan = pt.where(target == 0, pt.zeros_like(target), float("nan"))
        loss = pt.where(pos, target * pt.where(pos, target, 1.0).log(), zero_or_nan) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) for target 1, max(0, cos - margin) for target -1."""
    check_tensors("cosine_embedding_loss", input1=input1, input2=input2, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of equal size, got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    eps = 1e-12
    prod = (input1 * input2).sum(-1)
    mag = ((input1 * input1).sum(-1) + eps) * ((input2 * input2).sum(-1) + eps)
    cos = prod / mag.sqrt()
    over = cos - margin
    # clamp_min, not where(over > 0): at over == 0 the gradient passes, as PyTorch's
    loss = pt.where(target == 1, 1 - cos, 0.0) + pt.where(target == -1, over.clamp_min(0.0), 0.0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (x1 - x2) + margin)."""
    check_tensors("margin_ranking_loss", input1=input1, input2=input2, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {pt.Size(input1.shape)}, input2: {pt.Size(input2.shape)}, "
                           f"target: {pt.Size(target.shape)} ")
    v = -target * (input1 - input2) + margin
    return _reduce(v.clamp_min(0.0), reduction)   # at v == 0 the gradient passes, as PyTorch's


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)): a smooth hinge for targets of -1 and 1."""
    check_tensors("soft_margin_loss", input=input, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    shape = pt.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    if shape != tuple(input.shape):   # the result has the input's shape, as PyTorch's
        raise RuntimeError(f"soft_margin_loss(): output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(shape)} (target {list(target.shape)}); give the target the input's shape")
    _check_floating_input("soft_margin_loss", input, RuntimeError)
    if target.dtype is pt.bool:
        target = target.to(input.dtype)
    return _reduce((-target * input).exp().log1p(), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """``input`` where target is 1, max(0, margin - input) where it is -1 (both elsewhere)."""
    check_tensors("hinge_embedding_loss", input=input, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    # integers refused whatever the reduction: PyTorch's 'none' and 'sum' truncate margin - input to them
    _check_floating_input("hinge_embedding_loss", input, RuntimeError)
    over = margin - input
    return _reduce(pt.where(target != 1, over.clamp_min(0.0), 0.0)   # at over == 0 the gradient passes, as PyTorch's
                   + pt.where(target != -1, input, 0.0), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (``log_input``), else input - target * log(input + eps); ``full``
    adds Stirling's term target log target - target + log(2 pi target) / 2 where target > 1 (0 where
    target <= 1)."""
    check_tensors("poisson_nll_loss", input=input, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        small = target <= 1
        t = pt.where(small, 2.0, target)   # finite where masked, so the mask passes no NaN gradient
        loss = loss + pt.where(small, 0.0, t * t.log() - t + 0.5 * (2 * math.pi * t).log())
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the pairwise p-norm distance
    (``swap``: the smaller of d(anchor, negative) and d(positive, negative))."""
    check_tensors("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    dist = pt.nn.functional.pairwise_distance
    d_pos = dist(anchor, positive, p, eps)
    d_neg = dist(anchor, negative, p, eps)
    if swap:
        d_neg = pt.minimum(d_neg, dist(positive, negative, p, eps))
    v = margin + d_pos - d_neg
    return _reduce(v.clamp_min(0.0), reduction)   # at v == 0 the gradient passes, as PyTorch's


def _check_class_scores(op, input, target):
    """The multi-class margin losses' checks, as PyTorch's: the input a non-empty vector or matrix
    (of class scores), the target int64 (class indices)."""
    if input.ndim > 2 or (input.ndim > 0 and input.shape[-1] == 0):
        raise RuntimeError(f"{op}(): Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    if target.dtype is not pt.int64:
        raise RuntimeError(f"{op}(): expected scalar type Long but found {target.dtype} (the target holds class "
                           "indices: convert it with .long())")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """sum over the classes i != y of max(0, margin - x[y] + x[i])^p (times weight[y]), over C."""
    check_tensors("multi_margin_loss", input=input, target=target)
    check_optional_tensors("multi_margin_loss", weight=weight)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _check_class_scores("multi_margin_loss", input, target)
    _check_floating_input("multi_margin_loss", input)
    x = input.reshape(1, -1) if input.ndim < 2 else input
    n, c = x.shape
    if target.ndim > 1 or target.numel() != n:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{n}], but got {list(target.shape)}. Input "
                           f"has shape {list(input.shape)}.")
    t = target.reshape(n, 1)
    if weight is not None and weight.numel() != c:
        raise RuntimeError(f"inconsistent weight size, expected {c} but got {list(weight.shape)}")
    if t.numel():
        data_check(((t < 0) | (t >= c)).any(), RuntimeError, "target out of range",
                   lambda: f" (target {int(t[(t < 0) | (t >= c)][0])}; classes are 0 to {c - 1})")
    z = margin - x.gather(1, t) + x
    h = pt.where(z > 0, z, 0.0)
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * weight[t]
    h = pt.where(pt.arange(c, device=x.device) == t, 0.0, h)   # not the target's own class
    loss = h.sum(1) / c
    return _reduce(loss if input.ndim == 2 else loss.reshape(()), reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j (``target``'s entries up to its first -1) and the other classes i
    of max(0, 1 - (x[j] - x[i])), over C."""
    check_tensors("multilabel_margin_loss", input=input, target=target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    _check_class_scores("multilabel_margin_loss", input, target)
    _check_floating_input("multilabel_margin_loss", input)
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"multilabel_margin_loss(): inconsistent target size: {list(target.shape)} for input of "
                           f"size: {list(input.shape)}")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    t = target.reshape(x.shape)
    c = x.shape[1]
    if t.numel():
        data_check(((t < -1) | (t >= c)).any(), RuntimeError, "argument #2 'target' is out of range")
    listed = (t != -1).to(pt.int64).cumprod(1) > 0                 # (n, j): before the first -1
    safe = pt.where(listed, t, 0)
    classes = pt.arange(c, device=x.device)
    is_target = ((safe.unsqueeze(2) == classes) & listed.unsqueeze(2)).any(1)   # (n, i)
    z = 1 - x.gather(1, safe).unsqueeze(2) + x.unsqueeze(1)        # (n, j, i)
    keep = listed.unsqueeze(2) & ~is_target.unsqueeze(1)
    loss = pt.where(keep & (z > 0), z, 0.0).sum((1, 2)) / c
    return _reduce(loss if input.ndim == 2 else loss.reshape(()), reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) with ``full``).

    ``var`` has the input's shape, or one dim short of it, or one dim of size 1 where the input's
    is not (one variance shared along that dim), or is a Python number. As PyTorch, the clamp at
    ``eps`` passes var's gradient through unchanged.
    """
    check_tensors("gaussian_nll_loss", input=input, target=target)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = pt.full(tuple(input.shape), float(var), dtype=input.dtype, device=input.device)
    else:
        check_tensors("gaussian_nll_loss", var=var)
        if var.numel():
            data_check((var < 0).any(), ValueError, "var has negative entry/entries")
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs != xs:
        if xs[:-1] == vs:                 # one variance per sample, shared by its last dim
            var = var.unsqueeze(-1)
        elif not (len(vs) == len(xs) and sum(v for x, v in zip(xs, vs) if x != v) == 1):
            raise ValueError(f"var is of incorrect size: {list(vs)} for input {list(xs)} (give it the input's "
                             "shape, the input's shape without its last dim, or a size-1 dim where the input's "
                             "differs)")
    check_reduction(reduction)
    var = var + (var.clamp_min(eps) - var).detach()
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)) (times ``weight``), averaged over the classes
    (the last dim): one loss per sample, then reduced."""
    check_tensors("multilabel_soft_margin_loss", input=input, target=target)
    check_optional_tensors("multilabel_soft_margin_loss", weight=weight)
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if input.ndim == 0:
        raise RuntimeError("multilabel_soft_margin_loss(): expected an input of 1 or more dims (the last holds "
                           "the classes), got a 0-d tensor")
    _check_floating_input("multilabel_soft_margin_loss", input)
    loss = (1 - target) * input + _softplus_neg(input)
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(-1) / input.shape[-1]
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) for any ``distance_function``
    (default ``pairwise_distance``); ``swap`` takes min(d(a, n), d(p, n)) for the negative.

    >>> import plugtorch as pt
    >>> F = pt.nn.functional
    >>> a, p, n = pt.tensor([[0., 0.]]), pt.tensor([[0., 1.]]), pt.tensor([[3., 0.]])
    >>> F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda x, y: (x - y).abs().sum(-1),
    ...                                     margin=3.0).item()
    1.0
    """
    check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    check_tensors("triplet_margin_with_distance_loss", anchor=anchor, positive=positive, negative=negative)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    dist = distance_function if distance_function is not None else pt.nn.functional.pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = pt.minimum(d_neg, dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def _lse3(a, b, c):
    """log(e^a + e^b + e^c) elementwise, -inf where all three are, with finite gradients there
    (zeros), so the dead paths of the CTC lattice pass no NaN into the gradient."""
    m = pt.maximum(pt.maximum(a, b), c)
    live = m > float("-inf")
    ms = pt.where(live, m, 0.0)
    s = (a - ms).exp() + (b - ms).exp() + (c - ms).exp()
    return pt.where(live, ms + pt.where(live, s, 1.0).log(), float("-inf"))


def _as_lengths(op, name, lengths, device):
    if isinstance(lengths, (list, tuple)):
        bad = next((x for x in lengths if not isinstance(x, int) or isinstance(x, bool)), None)
        if bad is not None:   # (torch's argument parser takes tensors or sequences of ints only)
            raise TypeError(f"{op}(): {name} must be a tensor or a sequence of ints, got a "
                            f"{type(lengths).__name__} holding a {type(bad).__name__}")
    if isinstance(lengths, (int, list, tuple)):
        lengths = pt.tensor(lengths, dtype=pt.int64, device=device)
    check_tensors(op, **{name: lengths})
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype is pt.bool:
        raise RuntimeError(f"{op}(): {name} must hold integers, got {lengths.dtype}")
    return lengths.to(device=device, dtype=pt.int64)   # (on any device, as PyTorch, which reads them on the host)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification: -log of the summed probability of every alignment of
    ``targets`` to the frames of ``log_probs`` (T, N, C) (or (T, C) unbatched), blanks between and
    around the labels, repeated labels merged.

    The forward (alpha) recursion over the extended label sequence (blank, l1, blank, l2, ...,
    blank) runs in log space, one vectorised step per frame; autograd differentiates it. 'mean'
    divides each loss by its target length, then averages over the batch, as PyTorch.

    >>> import plugtorch as pt
    >>> lp = pt.full((2, 1, 2), 0.5).log()                     # 2 frames, p(blank) = p(1) = 0.5
    >>> loss = pt.nn.functional.ctc_loss(lp, pt.tensor([[1]]), [2], [1], reduction="sum")
    >>> round(loss.exp().item(), 6)                           # alignments 1-1, blank-1, 1-blank: 3 / 4
    1.333333
    """
    check_tensors("ctc_loss", log_probs=log_probs, targets=targets)
    check_reduction(reduction)
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss(): expected log_probs of shape (T, N, C) or (T, C), got {list(log_probs.shape)}")
    if not log_probs.dtype.is_floating_point:
        raise not_implemented_for("ctc_loss", log_probs.dtype, "log_probs are floats: use .log_softmax(-1)")
    dev = log_probs.device
    if isinstance(input_lengths, pt.Tensor) != isinstance(target_lengths, pt.Tensor):
        raise TypeError(f"ctc_loss(): input_lengths and target_lengths must both be tensors or both sequences "
                        f"of ints, got {type(input_lengths).__name__} and {type(target_lengths).__name__}")
    input_lengths = _as_lengths("ctc_loss", "input_lengths", input_lengths, dev)
    target_lengths = _as_lengths("ctc_loss", "target_lengths", target_lengths, dev)
    batched = log_probs.ndim == 3
    if not batched:
        log_probs, targets = log_probs.unsqueeze(1), targets.unsqueeze(0)
        input_lengths, target_lengths = input_lengths.reshape(1), target_lengths.reshape(1)
    t_max, n, c = log_probs.shape
    if input_lengths.numel() != n or input_lengths.ndim > 1:
        raise RuntimeError(f"input_lengths must be of size batch_size (expected {n}, got {list(input_lengths.shape)})")
    if target_lengths.numel() != n or target_lengths.ndim > 1:
        raise RuntimeError(f"target_lengths must be of size batch_size (expected {n}, got "
                           f"{list(target_lengths.shape)})")
    blank = as_int("ctc_loss", "blank", blank)
    if not 0 <= blank < c:
        raise RuntimeError(f"blank must be in label range (got blank={blank} for {c} classes)")
    input_lengths, target_lengths = input_lengths.reshape(n), target_lengths.reshape(n)
    if n:
        data_check(((input_lengths > t_max) | (input_lengths < 0)).any(), RuntimeError,
                   f"Expected input_lengths to have value at most {t_max} (and not negative)",
                   lambda: f", but got value {int(input_lengths.amax())}")
        data_check((target_lengths < 0).any(), RuntimeError, "ctc_loss: target_lengths must not be negative")
    targets = targets.to(device=dev, dtype=pt.int64)   # (cpu targets with device log_probs: moved, as PyTorch)
    if targets.ndim == 2 and batched or not batched and targets.ndim == 2:
        s_max = targets.shape[1]
        if n:
            data_check((target_lengths > s_max).any(), RuntimeError,
                       f"Expected tensor to have size at least the largest target length at dimension 1, but got "
                       f"size {s_max} for argument #2 'targets'", lambda: f" (largest: {int(target_lengths.amax())})")
        padded = targets
    elif targets.ndim == 1 and batched:               # the targets of the batch one after another
        total = int(target_lengths.sum()) if n else 0      # host reads: the layout of the concatenation
        if total > targets.shape[0]:
            raise RuntimeError(f"ctc_loss: target_lengths sum to {total}, more than the {targets.shape[0]} "
                               "concatenated targets")
        s_max = int(target_lengths.amax()) if n else 0
        starts = target_lengths.cumsum(0) - target_lengths
        steps = pt.arange(s_max, device=dev)
        pos = pt.where(steps < target_lengths.unsqueeze(1), starts.unsqueeze(1) + steps, 0)
        padded = targets[pos] if targets.numel() else pt.zeros((n, s_max), dtype=pt.int64, device=dev)
    else:
        raise RuntimeError(f"ctc_loss(): expected targets of shape (N, S) or the 1-D concatenation of the N "
                           f"targets, got {list(targets.shape)} for log_probs {list(log_probs.shape)}")
    if padded.numel():
        live = pt.arange(s_max, device=dev) < target_lengths.unsqueeze(1)
        data_check((((padded < 0) | (padded >= c)) & live).any(), RuntimeError,
                   f"ctc_loss: target labels must be in [0, {c})")
    # the extended labels: blank, l1, blank, l2, ..., blank (the padding past each target's end: blanks)
    width = 2 * s_max + 1
    ext = pt.full((n, width), blank, dtype=pt.int64, device=dev)
    if s_max:
        within = pt.arange(s_max, device=dev) < target_lengths.unsqueeze(1)
        ext[:, 1::2] = pt.where(within, padded[:, :s_max].clamp(0, c - 1), blank)
    same2 = pt.zeros((n, width), dtype=pt.bool, device=dev)
    if width > 2:
        same2[:, 2:] = ext[:, 2:] == ext[:, :-2]
    # s may come from s - 2 where their labels differ (PyTorch's rule: at even s both are blanks; a
    # target equal to blank at odd s may still skip from the label before it)
    skip = ~same2
    if width > 1:
        skip[:, :2] = False
    neg = pt.full((n, width), float("-inf"), dtype=log_probs.dtype, device=dev)
    lp = log_probs.permute(1, 0, 2)                                      # (N, T, C)
    emit = lp.gather(2, ext.unsqueeze(1).expand(n, t_max, width))        # (N, T, width)
    first = pt.arange(width, device=dev) < 2
    alpha = pt.where(first, emit[:, 0], neg) if t_max else neg
    for t in range(1, t_max):
        prev1 = pt.cat([neg[:, :1], alpha[:, :-1]], 1)
        prev2 = pt.where(skip, pt.cat([neg[:, :2], alpha[:, :-2]], 1), neg) if width > 2 else neg
        step = _lse3(alpha, prev1, prev2) + emit[:, t]
        alpha = pt.where((t < input_lengths).unsqueeze(1), step, alpha)   # a sequence that has ended keeps its
    end = (2 * target_lengths).unsqueeze(1)
    last = alpha.gather(1, end).squeeze(1)
    before = pt.where(target_lengths > 0, alpha.gather(1, (end - 1).clamp_min(0)).squeeze(1), float("-inf"))
    loss = -_lse3(last, before, neg[:, 0])
    if t_max:
        empty = pt.where(target_lengths > 0, float("inf"), 0.0).to(loss.dtype)   # (not the default dtype)
        loss = pt.where(input_lengths > 0, loss, empty)
    if zero_infinity:
        loss = pt.where(loss == float("inf"), 0.0, loss)
    if reduction == "mean":
        return (loss / target_lengths.clamp_min(1).to(loss.dtype)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss.reshape(())
