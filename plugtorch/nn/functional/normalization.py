"""Normalization: batch_norm, layer_norm, rms_norm, group_norm, instance_norm.

>>> import plugtorch as pt
>>> y = pt.nn.functional.layer_norm(pt.tensor([[1., 2., 3.]]), (3,))
>>> [round(v, 4) for v in y[0].tolist()]
[-1.2247, 0.0, 1.2247]
"""
from __future__ import annotations

import math

import plugtorch as pt
from plugtorch.dispatch.arguments import as_int
from plugtorch.dispatch.meta import not_implemented_for
from plugtorch.nn.functional._utils import check_optional_tensors, check_tensors


def _channel_shape(input):
    return (input.shape[1],) + (1,) * (input.ndim - 2)


def _opmath(input):
    """float16 and bfloat16 inputs are normalised in float32 and the result cast back, as PyTorch's
    kernels do: so float32 weight, bias and running statistics (a bf16 model's usual parameters)
    leave the result in the input's dtype, not float32."""
    return input.float() if input.dtype in (pt.float16, pt.bfloat16) else input


def _back(y, input):
    return y if y.dtype is input.dtype else y.to(input.dtype)


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise each channel (dim 1) with batch statistics (training) or the running ones.

    In training the running statistics are updated in place: ``running = (1 - m) * running + m * batch``,
    with the unbiased batch variance, as PyTorch does.
    """
    check_tensors("batch_norm", input=input)
    check_optional_tensors("batch_norm", running_mean=running_mean, running_var=running_var, weight=weight,
                           bias=bias)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input with at least 2 dims (N, C, ...), got {input.ndim}D")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    shape = _channel_shape(input)
    dims = [0] + list(range(2, input.ndim))
    x = _opmath(input)
    if training:
        count = input.numel() // c if c else 0
        if count == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(input.shape)}")
        if count == 0:   # an empty batch passes through the affine only; the running stats stay, as PyTorch's
            return _back(_affine(x, weight, bias, shape), input)
        var, mean = pt.var_mean(x, dims, correction=0, keepdim=True)    # (biased)
        if running_mean is not None:
            with pt.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach().reshape(c) * momentum)
                unbiased = var.detach().reshape(c) * (count / (count - 1))
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be given when training=False")
        # PyTorch's inference kernel: a scale and a shift per channel, then x * scale + shift (two
        # passes over the input instead of four)
        scale = (running_var + eps).rsqrt()
        if weight is not None:
            scale = scale * weight
        shift = running_mean * -scale
        if bias is not None:
            shift = shift + bias
        return _back(x * scale.reshape(shape) + shift.reshape(shape), input)
    y = (x - mean) * (var + eps).rsqrt()
    return _back(_affine(y, weight, bias, shape), input)


def check_layer_norm(input, normalized_shape, weight=None, bias=None) -> tuple:
    """layer_norm's argument checks (PyTorch's); returns ``normalized_shape`` as a tuple."""
    check_tensors("layer_norm", input=input)
    check_optional_tensors("layer_norm", weight=weight, bias=bias)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[-k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape [*, "
                           f"{', '.join(map(str, ns))}], but got input of size{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t.shape)} and normalized_shape = {list(ns)}")
    if not input.dtype.is_floating_point:
        raise not_implemented_for("layer_norm", input.dtype, "normalise floating point tensors: use .float()")
    return ns


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims (biased variance)."""
    ns = check_layer_norm(input, normalized_shape, weight, bias)
    k = len(ns)
    dims = list(range(input.ndim - k, input.ndim))
    x = _opmath(input.contiguous())   # a row-major result whatever the input's layout, as torch's
    mean = x.mean(dims, keepdim=True)
    xc = x - mean
    y = xc * ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return _back(y, input)


def layer_norm_backward(grad, input, normalized_shape, weight=None, eps=1e-5, output_mask=(True, True, True)):
    """The gradients of ``layer_norm(input, normalized_shape, weight, bias, eps)`` given the
    output's gradient ``grad``: the input's, the weight's and the bias's (the last two summed over
    the leading dims), each only where ``output_mask`` says (None elsewhere). One op, so a backend
    may compute them in one kernel, a few passes over memory (cpu does).
    """
    dims = list(range(input.ndim - len(normalized_shape), input.ndim))
    x = _opmath(input)
    g = _opmath(grad)
    xc = x - x.mean(dims, keepdim=True)
    rstd = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    xhat = xc * rstd
    gx = gw = gb = None
    if output_mask[0]:
        gh = g * weight if weight is not None else g
        gx = _back(rstd * (gh - gh.mean(dims, keepdim=True) - xhat * (gh * xhat).mean(dims, keepdim=True)), input)
    lead = list(range(input.ndim - len(dims)))
    if output_mask[1]:
        gw = (g * xhat).sum(lead) if lead else g * xhat
    if output_mask[2]:
        gb = g.sum(lead) if lead else g
    return gx, gw, gb


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times ``weight``.

    As PyTorch: float16 and bfloat16 inputs are computed in float32 and the result cast back, and
    ``eps=None`` is the machine epsilon of that computation dtype (``finfo(float32).eps`` for them).

    >>> import plugtorch as pt
    >>> y = pt.nn.functional.rms_norm(pt.tensor([[3., 4.]]), (2,), eps=0.0)   # rms = sqrt(12.5)
    >>> [round(v, 4) for v in y[0].tolist()]
    [0.8485, 1.1314]
    """
    check_tensors("rms_norm", input=input)
    check_optional_tensors("rms_norm", weight=weight)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    if input.ndim < k or tuple(input.shape[-k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape [*, "
                           f"{', '.join(map(str, ns))}], but got input of size{list(input.shape)}")
    if weight is not None and tuple(weight.shape) != ns:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
                           f"{list(weight.shape)} and normalized_shape = {list(ns)}")
    if not input.dtype.is_floating_point:
        raise not_implemented_for("rms_norm", input.dtype, "normalise floating point tensors: use .float()")
    x = input.float() if input.dtype in (pt.float16, pt.bfloat16) else input
    if eps is None:
        eps = pt.finfo(x.dtype).eps
    dims = list(range(input.ndim - k, input.ndim))
    y = x * ((x * x).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    return y if y.dtype is input.dtype else y.to(input.dtype)


def check_group_norm(input, num_groups, weight=None, bias=None, eps=1e-5) -> int:
    """group_norm's argument checks (PyTorch's), run by its meta before any kernel; returns
    ``num_groups`` as an int."""
    check_tensors("group_norm", input=input)
    check_optional_tensors("group_norm", weight=weight, bias=bias)
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected input with at least 2 dims (N, C, ...), got {list(input.shape)}")
    c = input.shape[1]
    num_groups = as_int("group_norm", "num_groups", num_groups)
    if num_groups < 0:   # (0 is PyTorch's ZeroDivisionError below)
        raise RuntimeError(f"group_norm(): Expected num groups to be greater than 0, got {num_groups}")
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t.shape)} and input of shape {list(input.shape)}")
    if not input.dtype.is_floating_point:
        raise not_implemented_for("group_norm", input.dtype, "normalise floating point tensors: use .float()")
    return num_groups


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of ``C // num_groups`` channels (and all spatial positions) per sample.
    A backend may give it a kernel (cpu: the layer_norm kernel's arithmetic and the affine, the
    decomposition's values in one dispatch)."""
    num_groups = check_group_norm(input, num_groups, weight, bias)
    n, c = input.shape[0], input.shape[1]
    # each group is a row normalised as layer_norm normalises: the layer_norm op (a backend's
    # fused kernel and its one-op backward), then the per-channel affine
    # (N, G, C/G, *spatial), normalised over all but the first two dims: no -1 (a batch of 0 has
    # rows of any length) and no product of sizes (ONNX export keeps each dynamic axis its own)
    ns = (c // num_groups,) + tuple(input.shape[2:])
    x = _opmath(input).reshape((n, num_groups) + ns)
    y = pt.ops.layer_norm(x, ns, None, None, eps).reshape(tuple(input.shape))
    return _back(_affine(y, weight, bias, _channel_shape(input)), input)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) over its spatial positions."""
    check_tensors("instance_norm", input=input)
    check_optional_tensors("instance_norm", running_mean=running_mean, running_var=running_var, weight=weight,
                           bias=bias)
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected input with at least 3 dims (N, C, *), got {list(input.shape)}")
    if use_input_stats and math.prod(input.shape[2:]) == 1:   # one value per instance: y would be 0
        raise ValueError(f"instance_norm: Expected more than 1 spatial element when training, got input size "
                         f"{list(input.shape)}")
    shape = _channel_shape(input)
    dims = list(range(2, input.ndim))
    x = _opmath(input.contiguous())   # a row-major result whatever the input's layout, as torch's
    if use_input_stats:
        var, mean = pt.var_mean(x, dims, correction=0, keepdim=True)    # (biased)
        if running_mean is not None:
            count = 1
            for d in dims:
                count *= input.shape[d]
            with pt.no_grad():
                c = input.shape[1]
                running_mean.mul_(1 - momentum).add_(mean.detach().reshape(-1, c).mean(0) * momentum)
                unbiased = var.detach().reshape(-1, c).mean(0) * (count / max(count - 1, 1))
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    y = (x - mean) * (var + eps).rsqrt()
    return _back(_affine(y, weight, bias, shape), input)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """Divide each element by (k + alpha * mean of x**2 over ``size`` neighbouring channels) ** beta;
    the window is centred (size // 2 before, (size - 1) // 2 after) and zero-padded, as PyTorch's.

    >>> pt.nn.functional.local_response_norm(pt.ones(1, 2, 1), 2, alpha=1.0, beta=1.0, k=0.0).flatten().tolist()
    [2.0, 1.0]
    """
    check_tensors("local_response_norm", input=input)
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = (input * input).transpose(1, -1)                    # channels last, for F.pad
    from plugtorch.nn.functional.padding import pad
    sq = pad(sq, (size // 2, (size - 1) // 2))
    total = sq.narrow(-1, 0, c)
    for i in range(1, size):
        total = total + sq.narrow(-1, i, c)
    div = (total.transpose(1, -1) * (alpha / size) + k).pow(beta)
    return input / div


def _cross_map_lrn2d(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """``nn.CrossMapLRN2d``'s normalisation (Torch7's), which differs from ``local_response_norm``:
    channel c divides by (k + alpha / size * s_c) ** beta, where s_c sums x**2 over channels
    0..min(c + p - 1, C - 1), p = (size - 1) // 2 + 1, less channels 1..c - p: channel 0 stays in
    every sum (PyTorch's running-window code never subtracts it), which this reproduces.
    """
    check_tensors("CrossMapLRN2d", input=input)
    if input.ndim != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
    c = input.shape[1]
    p = int((size - 1) / 2 + 1)
    total = (input * input).cumsum(1)                                    # sum over channels 0..j
    hi = pt.tensor([min(j + p - 1, c - 1) for j in range(c)], device=input.device)
    s = total.index_select(1, hi)
    if c > p + 1:
        # less channels 1..j - p: total[j - p] - total[0], for j > p
        lo = pt.tensor([j - p if j > p else 0 for j in range(c)], device=input.device)
        s = s - (total.index_select(1, lo) - total.narrow(1, 0, 1))
    return input * (s * (alpha / size) + k).pow(-beta)


def _all_reduce_sum(t, group):
    """Sum ``t`` over the ranks of ``group``, differentiably: the gradient of a sum over ranks is
    the sum over ranks of the gradients (each rank's loss depends on every rank's share)."""
    from plugtorch.autograd.function import Function
    import plugtorch.distributed as dist

    class AllReduceSum(Function):
        @staticmethod
        def forward(ctx, x):
            out = x.clone()
            dist.all_reduce(out, group=group)
            return out

        @staticmethod
        def backward(ctx, g):
            g = g.clone()
            dist.all_reduce(g, group=group)
            return g
    return AllReduceSum.apply(t)


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, group):
    """Training-mode batch_norm whose statistics cover the batches of every rank of ``group``:
    the channel sums and counts, then the squared deviations from the global mean, are summed
    over the ranks (two all-reduces, as stable as a two-pass variance); the running variance takes
    the unbiased global variance."""
    c = input.shape[1]
    dims = [0] + list(range(2, input.ndim))
    shape = _channel_shape(input)
    count = pt.full((1,), input.numel() // c, dtype=input.dtype, device=input.device)
    totals = _all_reduce_sum(pt.cat([input.sum(dims), count]), group)
    n = int(totals[c].item())
    if n <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got {n} values over the ranks "
                         f"(input size {list(input.shape)} on this rank)")
    mean = totals[:c] / n
    xc = input - mean.reshape(shape)
    var = _all_reduce_sum((xc * xc).sum(dims), group) / n
    if running_mean is not None:
        with pt.no_grad():
            running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
            running_var.mul_(1 - momentum).add_(var.detach() * (n / (n - 1) * momentum))
    y = xc * (var.reshape(shape) + eps).rsqrt()
    return _affine(y, weight, bias, shape)
