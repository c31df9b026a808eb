"""The heavy nn functionals, declared as composite ops of the registry.

Each is registered with its decomposition (the plain implementation in ``nn/functional``), so
the dispatcher runs it on every backend, a backend may override it with a native kernel under
the same name, and the profiler and conformance suite see one op (``conv2d``) rather than
its pieces. ``plugtorch.nn.functional`` exposes the dispatching wrappers defined here.

>>> import plugtorch as pt
>>> from plugtorch.dispatch import registry
>>> registry.get("conv2d").is_core
False
"""
from __future__ import annotations

import inspect

import plugtorch as pt
from plugtorch import _ops_public
from plugtorch import _dtypes
from plugtorch import _memory_format as _MF
from plugtorch._caches import Memo
from plugtorch._tensor import Tensor
from plugtorch.autograd import formulas as _formulas
from plugtorch.autograd.formulas import derivative
from plugtorch.dispatch.meta import broadcast_shapes, common_device, not_implemented_for
from plugtorch.dispatch.dispatcher import dispatch
from plugtorch.dispatch.registry import OPS, OUT_MULTI, OUT_TENSOR, register_op
from plugtorch.nn.functional import activation as _activation
from plugtorch.nn.functional import attention as _attention
from plugtorch.nn.functional import conv as _conv
from plugtorch.nn.functional import distance as _distance
from plugtorch.nn.functional import affine as _affine
from plugtorch.nn.functional import loss as _loss
from plugtorch.nn.functional import normalization as _norm
from plugtorch.nn.functional import padding as _padding
from plugtorch.nn.functional import pooling as _pool
from plugtorch.nn.functional import sampling as _sampling
from plugtorch.nn.functional import sparse as _sparse

# op name -> (implementation, tags). Ops listed in _OVERRIDABLE get a meta function, so the
# dispatcher looks for a backend kernel of that name before it runs the decomposition.
NN_OPS = {
    "linear": (_affine.linear, ("linalg",)),
    "bilinear": (_affine.bilinear, ("linalg",)),
    "conv1d": (_conv.conv1d, ("linalg",)),
    "conv2d": (_conv.conv2d, ("linalg",)),
    "conv_transpose2d": (_conv.conv_transpose2d, ("linalg",)),
    "max_pool2d": (_pool.max_pool2d, ("reduction",)),
    "avg_pool2d": (_pool.avg_pool2d, ("reduction",)),
    # on PyTorch's CPU autocast float32 list: registry ops so the policy table can name them
    "max_pool3d": (_pool.max_pool3d, ("reduction",)),
    "avg_pool3d": (_pool.avg_pool3d, ("reduction",)),
    "adaptive_avg_pool3d": (_pool.adaptive_avg_pool3d, ("reduction",)),
    "grid_sample": (_sampling.grid_sample, ()),     # and on the CUDA list's promote list
    # F.pad's reflect and replicate modes (reflection_pad3d is not on the list: it runs as given)
    **{f"{kind}_pad{n}d": (getattr(_padding, f"{kind}_pad{n}d"), ())
       for kind in ("reflection", "replication") for n in (1, 2, 3)},
    # on PyTorch's lower-precision autocast lists (a matrix-product-like op in its kernels)
    "prelu": (_activation.prelu, ()),
    "hardtanh": (_activation.hardtanh_op, ()),    # (ReLU6: a cpu kernel of one pass, not nine ops)
    "gelu": (_activation.gelu_op, ()),    # (cpu kernels fuse their passes on cache-sized blocks)
    "silu": (_activation.silu_op, ()),
    "batch_norm": (_norm.batch_norm, ()),
    "layer_norm": (_norm.layer_norm, ()),
    "rms_norm": (_norm.rms_norm, ()),
    "group_norm": (_norm.group_norm, ()),
    "embedding": (_sparse.embedding, ("indexing",)),
    "nll_loss": (_loss.nll_loss, ("reduction",)),
    "cross_entropy": (_loss.cross_entropy, ("reduction",)),
    # losses PyTorch's autocast lists run in float32 (or refuse): registry ops so the policy table
    # can name them (plugtorch/dispatch/autocast_policy.py); plain decompositions, no kernels
    "mse_loss": (_loss.mse_loss, ("reduction",)),
    "l1_loss": (_loss.l1_loss, ("reduction",)),
    "smooth_l1_loss": (_loss.smooth_l1_loss, ("reduction",)),
    "huber_loss": (_loss.huber_loss, ("reduction",)),
    "kl_div": (_loss.kl_div, ("reduction",)),
    "binary_cross_entropy": (_loss.binary_cross_entropy, ("reduction",)),
    "binary_cross_entropy_with_logits": (_loss.binary_cross_entropy_with_logits, ("reduction",)),
    "cosine_embedding_loss": (_loss.cosine_embedding_loss, ("reduction",)),
    "margin_ranking_loss": (_loss.margin_ranking_loss, ("reduction",)),
    "soft_margin_loss": (_loss.soft_margin_loss, ("reduction",)),
    "hinge_embedding_loss": (_loss.hinge_embedding_loss, ("reduction",)),
    "poisson_nll_loss": (_loss.poisson_nll_loss, ("reduction",)),
    "triplet_margin_loss": (_loss.triplet_margin_loss, ("reduction",)),
    "multi_margin_loss": (_loss.multi_margin_loss, ("reduction",)),
    "multilabel_margin_loss": (_loss.multilabel_margin_loss, ("reduction",)),
    # Python composites in PyTorch, in no autocast list (they run in their inputs' dtype); registry
    # ops all the same, so profilers see one op and a backend may override them
    "gaussian_nll_loss": (_loss.gaussian_nll_loss, ("reduction",)),
    "multilabel_soft_margin_loss": (_loss.multilabel_soft_margin_loss, ("reduction",)),
    "ctc_loss": (_loss.ctc_loss, ("reduction",)),
    "cosine_similarity": (_distance.cosine_similarity, ("reduction",)),
    "scaled_dot_product_attention": (_attention.scaled_dot_product_attention, ("linalg",)),
}


_OVERRIDABLE = ("linear", "bilinear", "conv1d", "conv2d", "conv_transpose2d", "avg_pool2d", "layer_norm", "hardtanh",
                "gelu", "silu", "_gelu_backward", "_silu_backward", "_embedding_bag",
                "group_norm", "embedding", "nll_loss", "cross_entropy", "_cross_entropy_backward", "_linear_backward",
                "_layer_norm_backward", "scaled_dot_product_attention",
                "_depthwise_conv2d_weight_grad")


def _make_meta(name, impl):
    """Bind the call to ``impl``'s signature; a backend kernel receives every argument positionally
    (defaults filled in, tensors as native arrays) and returns one native array, of the first floating
    point tensor argument's dtype (embedding's weight, not its indices)."""
    sig = inspect.signature(impl)
    params = list(sig.parameters.values())
    defaults = [p.default for p in params]
    required = sum(p.default is inspect.Parameter.empty for p in params)

    def meta(*args, **kwargs):
        if not kwargs and required <= len(args) <= len(params):   # the common call: no binding needed
            vals = list(args) + defaults[len(args):]
        else:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            vals = list(bound.arguments.values())
        if not isinstance(vals[0], Tensor):   # every such op's first argument is its input tensor
            raise TypeError(f"{name}(): argument '{params[0].name}' must be Tensor, not {type(vals[0]).__name__}")
        tensors = [v for v in vals if isinstance(v, Tensor)]
        dev = common_device(name, tensors)
        kargs = tuple(v._data if isinstance(v, Tensor) else v for v in vals)
        floats = [t for t in tensors if t._dtype.is_floating_point]
        return dev, kargs, (floats or tensors)[0]._dtype
    meta.__name__ = f"_{name}_meta"
    meta.__signature__ = sig
    meta.__doc__ = impl.__doc__
    return meta


def _checked_meta(name, impl, check):
    """The generic meta of ``impl``, after ``check(*args, **kwargs)`` (the op's own argument checks)."""
    meta = _make_meta(name, impl)

    def checked(*args, **kwargs):
        check(*args, **kwargs)
        return meta(*args, **kwargs)
    checked.__name__, checked.__signature__, checked.__doc__ = meta.__name__, meta.__signature__, meta.__doc__
    return checked


_ACT_METAS = {
    "gelu": _checked_meta("gelu", _activation.gelu_op, _activation.check_gelu),
    "silu": _checked_meta("silu", _activation.silu_op, _activation.check_silu),
    "_gelu_backward": _checked_meta("_gelu_backward", _activation.gelu_backward,
                                    lambda grad, input, approximate="none": _activation.check_gelu(
                                        input, approximate, grad, "_gelu_backward")),
    "_silu_backward": _checked_meta("_silu_backward", _activation.silu_backward,
                                    lambda grad, input: _activation.check_silu(input, grad, "_silu_backward")),
    "hardtanh": _checked_meta("hardtanh", _activation.hardtanh_op, _activation.check_hardtanh),
}


_LINEAR = Memo(1024)   # operands' (device, dtype, shape) -> (device, dtype): checks passed


def _linear_meta(input, weight, bias=None):
    """linear's meta: the decomposition's checks, and one dtype for all three tensors (as PyTorch);
    the verdict is memoised per operand signature."""
    try:
        key = (input._device, input._dtype, input._data.shape, weight._device, weight._dtype, weight._data.shape,
               None if bias is None else (bias._device, bias._dtype, bias._data.shape))
    except AttributeError:   # not tensors: the checks below say so
        key = None
    else:
        hit = _LINEAR.get(key)
        if hit is not None:
            return hit[0], (input._data, weight._data, None if bias is None else bias._data), hit[1]
    dev, kargs, dt = _check_linear_args(input, weight, bias)
    if key is not None:
        _LINEAR[key] = (dev, dt)
    return dev, kargs, dt


def _check_linear_args(input, weight, bias):
    for arg, t in (("input", input), ("weight", weight), ("bias", bias)):
        if not isinstance(t, Tensor) and (t is not None or arg != "bias"):
            raise TypeError(f"linear(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    _affine.check_linear(input, weight)
    dt = input._dtype
    if bias is None:
        dev = common_device("linear", (input, weight))
        b = None
    else:
        dev = common_device("linear", (input, weight, bias))
        b = bias._data
    if weight._dtype is not dt or (bias is not None and bias._dtype is not dt):
        got = f"input {dt}, weight {weight._dtype}" + (f", bias {bias._dtype}" if bias is not None else "")
        raise RuntimeError(f"linear(): expected input, weight and bias to have the same dtype, but got {got}; "
                           "cast them with .to(dtype)")
    if dt is _dtypes.bool:
        raise not_implemented_for("linear", dt, "convert bool tensors with .float() first")
    if bias is not None:
        out_shape = tuple(input.shape[:-1]) + ((weight.shape[0],) if weight.ndim == 2 else ())
        broadcast_shapes(out_shape, tuple(bias.shape), op="linear")
    return dev, (input._data, weight._data, b), dt


def linear_backward(grad, input, weight, output_mask=(True, True, True)):
    """The gradients of ``linear(input, weight, bias)`` (weight 2-D, bias 1-D) given the output's
    gradient ``grad``: ``(grad @ weight, grad^T input, grad summed over the batch)``, each only
    where ``output_mask`` says (None elsewhere); the batch dims of ``grad`` and ``input`` are
    flattened. One op, so a backend may compute all three in one kernel (cpu does).
    """
    gi = gw = gb = None
    if output_mask[0]:
        gi = _ops_public.ops._matmul(grad, weight) if grad.ndim == 2 else grad @ weight
    if input.ndim == 1:   # a single sample
        if output_mask[1]:
            gw = grad.unsqueeze(1) * input
        if output_mask[2]:
            gb = grad.clone()
        return gi, gw, gb
    g2 = grad if grad.ndim == 2 else grad.reshape(-1, grad.shape[-1])
    if output_mask[1]:
        x2 = input if input.ndim == 2 else input.reshape(-1, input.shape[-1])
        gw = _ops_public.ops._matmul(g2.permute(1, 0), x2)
    if output_mask[2]:
        gb = g2.sum(0)
    return gi, gw, gb


_LIN_BACK = Memo(1024)   # operands' (device, dtype, shape) -> device: checks passed


def _linear_backward_meta(grad, input, weight, output_mask=(True, True, True)):
    """A kernel receives ``(grad, input, weight, output_mask as 3 bools, dtype)`` and returns the
    three gradients (None where the mask is False), of the input's dtype."""
    try:
        key = (grad._device, grad._dtype, grad._data.shape, input._device, input._dtype, input._data.shape,
               weight._device, weight._dtype, weight._data.shape)
        mask = (bool(output_mask[0]), bool(output_mask[1]), bool(output_mask[2]))
    except (AttributeError, TypeError, IndexError):   # the checks below say what is wrong
        key = mask = None
    else:
        dev = _LIN_BACK.get(key)
        if dev is not None:
            dt = input._dtype
            return dev, (grad._data, input._data, weight._data, mask, dt), [dt, dt, dt]
    for arg, t in (("grad", grad), ("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"_linear_backward(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    if mask is None or len(output_mask) != 3:
        raise TypeError(f"_linear_backward(): output_mask must be 3 bools, got {output_mask!r}")
    dt = input._dtype
    if weight.ndim != 2 or input.ndim < 1 or not dt.is_floating_point:
        raise RuntimeError(f"_linear_backward(): expected a 2-D weight and a floating point input of 1 or more "
                           f"dims, got weight {tuple(weight.shape)} and input {dt} {tuple(input.shape)}")
    want = tuple(input.shape[:-1]) + (weight.shape[0],)
    if (tuple(grad.shape) != want or weight.shape[1] != input.shape[-1] or grad._dtype is not dt
            or weight._dtype is not dt):
        raise RuntimeError(f"_linear_backward(): expected grad {dt} {want} and weight {dt} "
                           f"({weight.shape[0]}, {input.shape[-1]}) for input {tuple(input.shape)}, got grad "
                           f"{grad._dtype} {tuple(grad.shape)} and weight {weight._dtype} {tuple(weight.shape)}")
    dev = common_device("_linear_backward", (grad, input, weight))
    _LIN_BACK[key] = dev
    return dev, (grad._data, input._data, weight._data, mask, dt), [dt, dt, dt]


def _linear_grad(g, input, weight, bias=None):
    """grad input = g W, grad weight = g^T x (over the flattened batch), grad bias = g summed over the batch,
    as one ``_linear_backward`` op; each is skipped when nothing needs it (the data of the first layer)."""
    if weight.ndim == 2:
        plain_bias = bias is not None and bias.ndim == 1
        gi, gw, gb = _ops_public.ops._linear_backward(g, input, weight, (input._rg, weight._rg, plain_bias))
        if bias is not None and not plain_bias:
            gb = g   # a bias of another shape (0-d, (1, out), (N, out) ...): the engine sums g down to it
        return gi, gw, gb
    gi = g.unsqueeze(-1) * weight if input._rg else None   # a 1-D weight: one output per sample
    return gi, (g.unsqueeze(-1) * input if input.ndim > 1 else g * input), g if bias is not None else None


_NLL = Memo(1024)   # operands' (device, dtype, shape) and reduction -> (device, dtype): checks passed


def _nll_loss_meta(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                   reduction="mean"):
    """nll_loss's meta: every check but the target values' (the kernel raises PyTorch's IndexError for
    those); the kernel receives the arguments positionally, the legacy flags folded into ``reduction``."""
    if ignore_index.__class__ is not int:
        ignore_index = _loss.check_ignore_index("nll_loss", ignore_index)
    key = None
    if size_average is None and reduce is None and reduction.__class__ is str:   # (the legacy flags warn)
        try:
            key = (input._device, input._dtype, input._data.shape, target._device, target._dtype, target._data.shape,
                   None if weight is None else (weight._device, weight._dtype, weight._data.shape), reduction)
        except AttributeError:   # not tensors: the checks below say so
            key = None
        else:
            hit = _NLL.get(key)
            if hit is not None:
                return hit[0], (input._data, target._data, None if weight is None else weight._data, None,
                                ignore_index, None, reduction), hit[1]
    r = _check_nll_args(input, target, weight, size_average, ignore_index, reduce, reduction)
    if key is not None:
        _NLL[key] = (r[0], r[2])
    return r


def _check_nll_args(input, target, weight, size_average, ignore_index, reduce, reduction):
    for arg, t in (("input", input), ("target", target), ("weight", weight)):
        if not isinstance(t, Tensor) and (t is not None or arg != "weight"):
            raise TypeError(f"nll_loss(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    reduction = _loss.nll_checks(input, target, weight, size_average, reduce, reduction)
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"nll_loss(): expected floating point input (log-probabilities), got {input._dtype}")
    dev = common_device("nll_loss", (input, target) if weight is None else (input, target, weight))
    return dev, (input._data, target._data, None if weight is None else weight._data, None, ignore_index,
                 None, reduction), input._dtype


_CLASSES = Memo(64)   # (classes, ndim, device) -> arange(classes) shaped to broadcast


def _classes(c, device, ndim):
    """arange(c) shaped to run along the class dim of an ndim-D input (cached: made once per shape)."""
    key = (c, id(device), ndim)     # id: devices are interned
    t = _CLASSES.get(key)
    if t is None or t._device is not device:
        from plugtorch.dispatch.dispatcher import outside_modes
        with pt.no_grad(), outside_modes():    # (a cached constant: a tracer captures it, not records it)
            t = _CLASSES[key] = pt.arange(c, device=device).reshape((c,) + (1,) * max(ndim - 2, 0))
    return t


def _nll_loss_grad(g, input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                   reduction="mean"):
    """-g (times the class weight; over the summed weights for 'mean') at each target class.

    The target mask is ``target == arange(C)``: ignored targets match no class, and the forward
    already rejected the out-of-range ones, so no scatter (whose index check reads back) is needed.
    """
    if size_average is not None or reduce is not None:
        reduction = "mean" if size_average is not False and reduce is not False else "sum" if reduce is not False else "none"
    ignore_index = _loss.check_ignore_index("nll_loss", ignore_index)
    cdim = 1 if input.ndim > 1 else 0
    c = input.shape[cdim]
    classes = _classes(c, target.device, input.ndim)
    col = tuple(target.shape[:cdim]) + (1,) + tuple(target.shape[cdim:])
    mask = target.view(col) == classes   # inserting a size-1 dim is a view whatever the strides
    if 0 <= ignore_index < c:
        mask = mask & (target != ignore_index).view(col)
    w = mask if weight is None else mask * (weight.to(input.dtype) if input.ndim < 3 else
                                            weight.to(input.dtype).reshape(tuple(classes.shape)))
    gi = None
    if input._rg:
        if reduction == "mean":
            # every target ignored: PyTorch's loss is 0/0 = nan but its gradient 0, not 0 * (1/0)
            total = w.sum() + (mask.sum() == 0)
            gi = w * (-g / total)
        else:
            gi = w * -(g.unsqueeze(cdim) if reduction == "none" else g)
    gw = None
    if weight is not None and weight._rg:   # d loss / d w[c]: over the samples of class c
        keep = target != ignore_index
        safe = pt.where(keep, target, 0)
        picked = -input.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim) * keep.to(input.dtype)
        if reduction == "mean":
            wt = weight.to(input.dtype)[safe] * keep.to(input.dtype)
            total = wt.sum()
            coef = g * (picked - (picked * wt).sum() / total * keep.to(input.dtype)) / total
        else:
            coef = g * picked
        gw = pt.zeros(tuple(weight.shape), dtype=coef.dtype, device=coef.device).scatter_add(
            0, safe.reshape(-1), coef.reshape(-1))
    return gi, None, gw


_CE = Memo(1024)   # operands' (device, dtype, shape), reduction and smoothing -> (device, dtype): checks passed


def _cross_entropy_meta(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                        reduction="mean", label_smoothing=0.0):
    """cross_entropy's meta: the decomposition's checks but the class-index targets' values (the
    kernel raises PyTorch's IndexError for those); a kernel receives ``(input, target, weight or
    None, ignore_index, reduction, label_smoothing, dtype)``, the legacy flags folded into
    ``reduction``, and returns the loss."""
    if ignore_index.__class__ is not int:
        ignore_index = _loss.check_ignore_index("cross_entropy", ignore_index)
    key = None
    if size_average is None and reduce is None and reduction.__class__ is str:   # (the legacy flags warn)
        try:
            key = (input._device, input._dtype, input._data.shape, target._device, target._dtype, target._data.shape,
                   None if weight is None else (weight._device, weight._dtype, weight._data.shape), reduction,
                   label_smoothing, ignore_index < 0)
        except (AttributeError, TypeError):   # not tensors, or an unhashable argument: the checks below say so
            key = None
        else:
            hit = _CE.get(key)
            if hit is not None:
                return hit[0], (input._data, target._data, None if weight is None else weight._data, ignore_index,
                                reduction, label_smoothing, hit[1]), hit[1]
    for arg, t in (("input", input), ("target", target), ("weight", weight)):
        if not isinstance(t, Tensor) and (t is not None or arg != "weight"):
            raise TypeError(f"cross_entropy(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"cross_entropy(): expected a floating point input (logits), got {input._dtype}")
    if target._dtype.is_floating_point:
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(f"cross_entropy: expected target of the same shape as input for class "
                               f"probabilities, got input {list(input.shape)} and target {list(target.shape)}")
        _loss.check_no_ignore_index_for_probabilities(ignore_index, target._dtype)
        for arg, t in (("target", target), ("weight", weight)):
            if t is not None and t._dtype is not input._dtype:
                raise RuntimeError(f"cross_entropy(): expected {arg} of the input's dtype {input._dtype} for class "
                                   f"probabilities, got {t._dtype}; cast it with .to({input._dtype})")
        if input.ndim < 1:
            raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
        c = input.shape[1] if input.ndim > 1 else input.shape[0]
        if weight is not None and weight.numel() != c:
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                               f"weight tensor of shape: {list(weight.shape)}")
    else:
        _loss.nll_checks(input, target, weight, None, None, reduction, "cross_entropy")
    dev = common_device("cross_entropy", (input, target) if weight is None else (input, target, weight))
    if key is not None:
        _CE[key] = (dev, input._dtype)
    return dev, (input._data, target._data, None if weight is None else weight._data, ignore_index, reduction,
                 label_smoothing, input._dtype), input._dtype


def cross_entropy_backward(grad, input, target, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0):
    """The gradient of ``cross_entropy(input, target, weight, ignore_index=, reduction=,
    label_smoothing=)`` (class-index targets) with respect to ``input``, given the loss's
    gradient ``grad``: ``softmax(input) * A.sum(C) - A`` times the reduction's scale, where
    ``A[n, c] = w[c] ((1 - e) [c == target[n]] + e / C)`` over the samples not ignored.
    """
    ignore_index = _loss.check_ignore_index("cross_entropy", ignore_index)
    cdim = 1 if input.ndim > 1 else 0
    c = input.shape[cdim]
    classes = _classes(c, input.device, input.ndim)
    col = tuple(target.shape[:cdim]) + (1,) + tuple(target.shape[cdim:])
    t = target.view(col)   # inserting a size-1 dim is a view whatever the strides
    keep = t != ignore_index
    hit = (t == classes) & keep
    wc = None if weight is None else weight.to(input.dtype).reshape(tuple(classes.shape))
    a = hit.to(input.dtype) if wc is None else hit * wc
    if reduction == "mean":
        # every target ignored: PyTorch's loss is 0/0 = nan but its gradient 0, not 0 * (1/0)
        grad = grad / (keep.sum().clamp_min(1) if wc is None else a.sum() + (keep.sum() == 0))
    if label_smoothing:
        k = keep.to(input.dtype)
        a = a * (1 - label_smoothing) + (k * (label_smoothing / c) if wc is None else k * wc * (label_smoothing / c))
    gx = pt.softmax(input, cdim) * a.sum(cdim, keepdim=True) - a
    return gx * (grad.view(col) if reduction == "none" else grad)


NN_OPS["_cross_entropy_backward"] = (cross_entropy_backward, ())   # cross_entropy's formula runs it
NN_OPS["_linear_backward"] = (linear_backward, ("linalg",))       # linear's
NN_OPS["_depthwise_conv2d_weight_grad"] = (_conv.depthwise_conv2d_weight_grad, ())   # conv2d's (groups = channels)
NN_OPS["_layer_norm_backward"] = (_norm.layer_norm_backward, ())   # layer_norm's
NN_OPS["_gelu_backward"] = (_activation.gelu_backward, ())   # gelu's
NN_OPS["_silu_backward"] = (_activation.silu_backward, ())   # silu's
NN_OPS["_embedding_bag"] = (_sparse.embedding_bag_1d, ("indexing",))   # embedding_bag's of a 1-D input

_CE_BACK = Memo(1024)   # operands' (device, dtype, shape) and reduction -> (device, dtype): checks passed


def _cross_entropy_backward_meta(grad, input, target, weight=None, ignore_index=-100, reduction="mean",
                                 label_smoothing=0.0):
    """A kernel receives ``(grad, input, target, weight or None, ignore_index, reduction,
    label_smoothing)`` and returns the input's gradient, of the input's dtype and shape."""
    try:
        key = (grad._device, grad._dtype, grad._data.shape, input._device, input._dtype, input._data.shape,
               target._device, target._dtype, target._data.shape,
               None if weight is None else (weight._device, weight._dtype, weight._data.shape), reduction)
    except AttributeError:   # not tensors: the checks below say so
        key = None
    else:
        hit = _CE_BACK.get(key)
        if hit is not None:
            return hit[0], (grad._data, input._data, target._data, None if weight is None else weight._data,
                            ignore_index, reduction, label_smoothing), hit[1]
    for arg, t in (("grad", grad), ("input", input), ("target", target), ("weight", weight)):
        if not isinstance(t, Tensor) and (t is not None or arg != "weight"):
            raise TypeError(f"_cross_entropy_backward(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    _loss.check_reduction(reduction)
    if input.ndim < 1 or not input._dtype.is_floating_point:
        raise RuntimeError(f"_cross_entropy_backward(): expected a floating point input of 1 or more dims, got "
                           f"{input._dtype} of shape {tuple(input.shape)}")
    c = _loss.check_target_shape("cross_entropy", input, target)
    want = tuple(target.shape) if reduction == "none" else ()
    if tuple(grad.shape) != want or grad._dtype is not input._dtype:
        raise RuntimeError(f"_cross_entropy_backward(): expected a {input._dtype} grad of shape {want} (reduction "
                           f"'{reduction}'), got {grad._dtype} of shape {tuple(grad.shape)}")
    if weight is not None and tuple(weight.shape) != (c,):
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                           f"weight tensor of shape: {list(weight.shape)}")
    dev = common_device("_cross_entropy_backward",
                        (grad, input, target) if weight is None else (grad, input, target, weight))
    if key is not None:
        _CE_BACK[key] = (dev, input._dtype)
    return dev, (grad._data, input._data, target._data, None if weight is None else weight._data, ignore_index,
                 reduction, label_smoothing), input._dtype


def _cross_entropy_covered(args, kwargs):
    """cross_entropy's formula covers class-index targets, a weight that needs no gradient and
    the modern reduction argument; other calls are differentiated through the decomposition."""
    target = args[1] if len(args) > 1 else None
    weight = args[2] if len(args) > 2 else None
    return (target.__class__ is Tensor and target._dtype.category == _dtypes._INT
            and (weight is None or not weight._rg) and len(args) <= 3
            and kwargs.get("size_average") is None and kwargs.get("reduce") is None)


def _cross_entropy_grad(g, input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                        reduction="mean", label_smoothing=0.0):
    return (_ops_public.ops._cross_entropy_backward(g, input, target, weight, ignore_index, reduction,
                                                     label_smoothing),)


def _conv2d_meta(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d's meta: the decomposition's checks; a kernel receives (x, w, b or None,
    (stride_h, stride_w), (pad_left, pad_right, pad_top, pad_bottom), (dil_h, dil_w), groups)."""
    for arg, t in (("input", input), ("weight", weight), ("bias", bias)):
        if not isinstance(t, Tensor) and (t is not None or arg != "bias"):
            raise TypeError(f"conv2d(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    pads, s, d, _ = _conv.conv2d_geometry(input, weight, stride, padding, dilation, groups)
    if bias is None:
        dev = common_device("conv2d", (input, weight))
        b = None
    else:
        dev = common_device("conv2d", (input, weight, bias))
        if tuple(bias.shape) != (weight.shape[0],) or bias._dtype is not input._dtype:
            raise RuntimeError(f"conv2d(): expected a bias of shape ({weight.shape[0]},) and dtype "
                               f"{input._dtype}, got {tuple(bias.shape)} and {bias._dtype}")
        b = bias._data
    return dev, (input._data, weight._data, b, s, pads, d, groups.__index__()), input._dtype


def _layer_norm_meta(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """layer_norm's meta: the decomposition's checks; a kernel receives ``(x, normalized_shape as a
    tuple, weight or None, bias or None, eps)`` and returns the result, of the input's dtype."""
    ns = _norm.check_layer_norm(input, normalized_shape, weight, bias)
    tensors = [t for t in (input, weight, bias) if t is not None]
    dev = common_device("layer_norm", tensors)
    return dev, (input._data, ns, None if weight is None else weight._data, None if bias is None else bias._data,
                 eps), input._dtype


def _layer_norm_backward_meta(grad, input, normalized_shape, weight=None, eps=1e-5, output_mask=(True, True, True)):
    """A kernel receives ``(grad, x, normalized_shape as a tuple, weight or None, eps, output_mask as
    3 bools)`` and returns the input's gradient (its dtype) and the weight's and bias's (summed over
    the leading dims; float32 for float16 and bfloat16 inputs), None where the mask is False."""
    ns = _norm.check_layer_norm(input, normalized_shape, weight)
    if not isinstance(grad, Tensor) or tuple(grad.shape) != tuple(input.shape) or grad._dtype is not input._dtype:
        got = f"{grad._dtype} {tuple(grad.shape)}" if isinstance(grad, Tensor) else type(grad).__name__
        raise RuntimeError(f"_layer_norm_backward(): expected a grad of the input's dtype and shape "
                           f"({input._dtype} {tuple(input.shape)}), got {got}")
    if len(output_mask) != 3:
        raise TypeError(f"_layer_norm_backward(): output_mask must be 3 bools, got {output_mask!r}")
    mask = (bool(output_mask[0]), bool(output_mask[1]), bool(output_mask[2]))
    dev = common_device("_layer_norm_backward", (grad, input) if weight is None else (grad, input, weight))
    dt = input._dtype
    acc = _dtypes.float32 if dt in (_dtypes.float16, _dtypes.bfloat16) else dt
    return dev, (grad._data, input._data, ns, None if weight is None else weight._data, eps, mask), [dt, acc, acc]


_METAS = {"linear": _linear_meta, "nll_loss": _nll_loss_meta, "conv2d": _conv2d_meta,
          "group_norm": _checked_meta("group_norm", _norm.group_norm, _norm.check_group_norm),
          "_embedding_bag": _checked_meta("_embedding_bag", _sparse.embedding_bag_1d, _sparse.check_embedding_bag_1d),
          "layer_norm": _layer_norm_meta, "_layer_norm_backward": _layer_norm_backward_meta,
          "_cross_entropy_backward": _cross_entropy_backward_meta, "cross_entropy": _cross_entropy_meta,
          "_linear_backward": _linear_backward_meta, **_ACT_METAS}
# op name -> (formula, the arguments it reads, which calls it covers (None: all))
def _hardtanh_grad(g, input, min_val=-1.0, max_val=1.0):
    # the incoming gradient strictly inside the limits (0 at them, as PyTorch), and at nan (a nan
    # limit excludes nothing, as PyTorch's hardtanh_backward)
    if pt.is_grad_enabled():
        # create_graph: two threshold_backward, so the gradient stays connected to the input with
        # derivative 0 (their formula), as PyTorch's (the mask below would cut it off)
        inside_min = pt.ops.threshold_backward(g, input, min_val)
        return (pt.ops.threshold_backward(inside_min, -input, -max_val).to(g.dtype), None, None)
    # without it one mask: relu6 forward + backward of 2**20 float32 1.2 ms, not 2 ms
    excluded = (input <= min_val) | (input >= max_val)
    return (pt.where(excluded, 0.0, g).to(g.dtype), None, None)


def _gelu_grad(g, input, approximate="none"):
    return (pt.ops._gelu_backward(g, input, approximate), None)


def _silu_grad(g, input):
    return (pt.ops._silu_backward(g, input),)


def _gelu_covered(args, kwargs):
    """gelu's formula covers the tanh formula; approximate='none' records its decomposition, whose
    autograd reuses the forward's erfc (the backward op would compute it again: 10 ms per 2**20
    float32 elements)."""
    approximate = args[1] if len(args) > 1 else kwargs.get("approximate", "none")
    return approximate == "tanh"


def _real_input(args, kwargs):
    """silu's formula covers real inputs (complex ones differentiate the decomposition)."""
    return not args[0].dtype.is_complex


def _batch_norm_covered(args, kwargs):
    """batch_norm's formula covers training with batch statistics on float32/float64 inputs whose
    running statistics need no gradient (half inputs, and eval, go through the decomposition)."""
    training = args[5] if len(args) > 5 else kwargs.get("training", False)
    x = args[0]
    return (training is True and x.__class__ is Tensor and x._dtype in (pt.float32, pt.float64) and x.ndim >= 2
            and all(t is None or not t._rg for t in args[1:3]))


def _batch_norm_grad(g, input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                     eps=1e-5):
    # training: y = xhat w + b with xhat = (x - mean) rstd over (N, *spatial) per channel, so
    # dx = w rstd (g - mean(g) - xhat mean(g xhat)), dw = sum(g xhat), db = sum(g): about ten
    # passes, where autograd through the decomposition's mean, var and affine ops took twenty
    dims = [0] + list(range(2, input.ndim))
    c = input.shape[1]
    shape = (c,) + (1,) * (input.ndim - 2)
    n = input.numel() // c
    var, mean = pt.var_mean(input, dims, correction=0, keepdim=True)
    rstd = (var + eps).rsqrt()
    xhat = (input - mean) * rstd
    gsum = g.sum(dims, keepdim=True)
    gxhat = (g * xhat).sum(dims, keepdim=True)
    scale = rstd if weight is None else rstd * weight.reshape(shape)
    gx = (g - gsum / n - xhat * (gxhat / n)) * scale
    return (gx, None, None, None if weight is None else gxhat.reshape(c), None if bias is None else gsum.reshape(c))


def _binary_cross_entropy_grad(g, input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """PyTorch's formula, not the derivative of the clamped logs: d/dx = (x - y) / max(x (1 - x), 1e-12)
    stays finite and points the right way at x = 0 or 1 exactly (where the clamp is flat) and for
    tiny x (where 1 / x overflows float32); d/dy = log(1 - x) - log(x), both logs clamped at -100."""
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        g = g / max(input.numel(), 1)
    w = g if weight is None else g * weight
    gi = gt = gw = None
    if input._rg:
        gi = w * (input - target) / (input * (1 - input)).clamp_min(1e-12)
    if target._rg:
        gt = w * (_loss._clamped_log(1 - input) - _loss._clamped_log(input))
    if weight is not None and weight._rg:
        gw = _formulas.sum_to(g * _loss.binary_cross_entropy(input, target, reduction="none"), weight.shape)
    return gi, gt, gw


def _binary_cross_entropy_covered(args, kwargs):
    """The formula covers a weight that broadcasts to the input's shape (a larger one grows the loss)."""
    weight = args[2] if len(args) > 2 else kwargs.get("weight")
    return weight is None or broadcast_shapes(tuple(weight.shape), tuple(args[0].shape)) == tuple(args[0].shape)


_FORMULAS = {"linear": (_linear_grad, ("input", "weight"), None),
             "batch_norm": (_batch_norm_grad, ("input", "weight"), _batch_norm_covered),
             "hardtanh": (_hardtanh_grad, ("input",), None),
             "gelu": (_gelu_grad, ("input",), _gelu_covered),
             "silu": (_silu_grad, ("input",), _real_input),
             "nll_loss": (_nll_loss_grad, ("input", "target", "weight"), None),
             "conv2d": (_conv.conv2d_backward, ("input", "weight"), None),
             "cross_entropy": (_cross_entropy_grad, ("input", "target", "weight"), _cross_entropy_covered),
             "binary_cross_entropy": (_binary_cross_entropy_grad, ("input", "target", "weight"),
                                      _binary_cross_entropy_covered)}


# ops whose result PyTorch lays out channels_last when the input (or conv's weight) is: the wrappers
# convert a kernel's row-major result (plugtorch/_memory_format.py)
_KEEP_CHANNELS_LAST = frozenset({"conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "batch_norm", "group_norm"})


def _wrapper(op, impl):
    def fn(*args, **kwargs):
        return dispatch(op, *args, **kwargs)
    if op.name in _KEEP_CHANNELS_LAST:
        fn = _MF.keeps_channels_last(fn)
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = impl.__doc__
    fn.__signature__ = op.signature
    fn.__wrapped__ = impl
    fn._op = op
    return fn


def _register():
    out = {}
    for name, (impl, tags) in NN_OPS.items():
        op = OPS.get(name)
        if op is None:
            meta = _METAS.get(name) or _make_meta(name, impl) if name in _OVERRIDABLE else None
            op = register_op(name, meta, decomposition=impl, tags=tags,
                             out_kind=OUT_MULTI if name in ("_linear_backward", "_layer_norm_backward") else OUT_TENSOR)
        if name in _FORMULAS:
            fn, save, when = _FORMULAS[name]
            derivative(name, fn, save=save, when=when)
        out[name] = _wrapper(op, impl)
        setattr(_ops_public.ops, name, _ops_public._make_op_function(op))
    return out


WRAPPERS = _register()

from plugtorch.dispatch.ops.complex import REAL_ONLY_OPS, refuse_complex  # noqa: E402
refuse_complex(REAL_ONLY_OPS)   # the ones registered just now (batch_norm, cross_entropy ...)
