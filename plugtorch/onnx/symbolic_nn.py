"""Table entries for linear algebra, reductions and the neural-network ops.

Composite ops mapped here (linear, conv, normalizations, pooling, softmax, embedding, mean) get
one ONNX operator each instead of their decompositions; calls a mapping does not cover decline
(``declines``) and export through their decomposition.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch.onnx.values import SymInt, has_symint, opmath
from plugtorch.onnx.table import onnx_op


def _pair(x, n=2):
    if isinstance(x, (list, tuple)):
        return [int(v) for v in x] * (n if len(x) == 1 else 1)
    return [int(x)] * n


def _finish(g, name, ct):
    out = g.out.dtype
    return [name if ct is out else g.cast(name, out)]


# ---- linear algebra --------------------------------------------------------------------------------
@onnx_op("_matmul", "matmul", "mm", "bmm")
def matmul(g, input, other):
    ct = opmath(g.out.dtype) if g.out.dtype.is_floating_point else g.out.dtype
    return _finish(g, g.node("MatMul", [g.input(input, ct), g.input(other, ct)]), ct)


@onnx_op("linear")
def linear(g, input, weight, bias=None):
    out = g.out.dtype
    x = g.input(input, out)
    if input.ndim == 2 and weight.ndim == 2:
        ins = [x, g.input(weight, out)] + ([g.input(bias, out)] if bias is not None else [])
        return [g.node("Gemm", ins, transB=1)]
    w = g.value(weight)
    if w is not None and weight.ndim == 2 and not g.is_parameter(weight):
        wt = g.const(np.ascontiguousarray(w.T), "weight_t")      # a constant: store it transposed
    elif weight.ndim == 2:
        # a parameter stays one initializer (tied weights are not stored twice); runtimes fold
        # the Transpose when they load the model
        wt = g.node("Transpose", [g.input(weight, out)], perm=[1, 0])
    else:
        wt = g.input(weight, out)
    r = g.node("MatMul", [x, wt])
    if bias is not None:
        r = g.node("Add", [r, g.input(bias, out)])
    return [r]


@onnx_op("linalg_det", declines=lambda opset, A: None if A.dtype is pt.float32 else
         f"a {A.dtype} matrix (ONNX Runtime's Det computes float32 only)")
def linalg_det(g, A):
    return [g.node("Det", [g.input(A)])]


def _einsum_operands(operands):
    return tuple(operands[0]) if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else operands


def _einsum_declines(opset, equation, *operands):
    operands = _einsum_operands(operands)
    if any(x.dtype is pt.bool for x in operands):
        return "bool operands"
    terms = equation.replace(" ", "").split("->")[0].split(",")
    spans = {x.ndim - len(t.replace("...", "")) for t, x in zip(terms, operands) if "..." in t}
    if len(spans) > 1:        # (ONNX's shape inference wants the same rank under every '...')
        return "operands broadcast under '...' with different ranks"
    sizes = {}                # a letter of size 1 in one operand and n in another: eager broadcasts it
    for t, x in zip(terms, operands):
        head, _, tail = t.partition("...")
        dims = list(zip(head, x.shape)) + list(zip(tail, x.shape[x.ndim - len(tail):] if tail else ()))
        for letter, n in dims:
            if sizes.setdefault(letter, n) != n:
                return f"index '{letter}' broadcast (sizes {sizes[letter]} and {n})"
    return None


@onnx_op("einsum", declines=_einsum_declines)
def einsum(g, equation, *operands):
    """ONNX's Einsum (the decomposition's broadcast products hold every index at once)."""
    ct = opmath(g.out.dtype)
    ins = [g.input(x, ct) for x in _einsum_operands(operands)]
    return _finish(g, g.node("Einsum", ins, equation=equation.replace(" ", "")), ct)


# ---- convolutions -----------------------------------------------------------------------------------
def _conv_pads(padding, kernel, dilation):
    """ONNX pads (all begins, then all ends) for an int/tuple/'valid'/'same' padding."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * (2 * n)
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]     # 'same': extra on the end
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    p = _pair(padding, n)
    return p + p


def _batched(g, input, spatial, fn):
    """Run ``fn(x)`` on a batched input (an unbatched one gets a batch dim of 1 and loses it)."""
    x = g.input(input)
    if input.ndim == spatial + 1:
        return [g.squeeze(fn(g.unsqueeze(x, [0])), [0])]
    return [fn(x)]


def _conv(spatial):
    def emit(g, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        k = list(weight.shape[2:])
        d = _pair(dilation, spatial)
        attrs = dict(kernel_shape=k, strides=_pair(stride, spatial), dilations=d,
                     pads=_conv_pads(padding, k, d), group=int(groups))
        w = g.input(weight)
        b = [g.input(bias)] if bias is not None else []
        return _batched(g, input, spatial, lambda x: g.node("Conv", [x, w] + b, **attrs))
    return emit


onnx_op("conv1d")(_conv(1))
onnx_op("conv2d")(_conv(2))


@onnx_op("conv_transpose2d")
def conv_transpose2d(g, input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    p = _pair(padding)
    attrs = dict(kernel_shape=list(weight.shape[2:]), strides=_pair(stride), pads=p + p,
                 output_padding=_pair(output_padding), dilations=_pair(dilation), group=int(groups))
    w = g.input(weight)
    b = [g.input(bias)] if bias is not None else []
    return _batched(g, input, 2, lambda x: g.node("ConvTranspose", [x, w] + b, **attrs))


# ---- normalization -------------------------------------------------------------------------------
def _bn_declines(opset, input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                 eps=1e-5):
    if training or running_mean is None or running_var is None:
        return "batch statistics (training mode or no running stats)"
    if input.ndim < 2:
        return "an input without a channel dim"
    return None


@onnx_op("batch_norm", declines=_bn_declines)
def batch_norm(g, input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    dt = input.dtype
    c = g.static_dim(input, 1)
    scale = g.input(weight, dt) if weight is not None else g.const(np.ones(c, dt.numpy))
    shift = g.input(bias, dt) if bias is not None else g.const(np.zeros(c, dt.numpy))
    return [g.node("BatchNormalization", [g.input(input), scale, shift, g.input(running_mean, dt),
                                          g.input(running_var, dt)], epsilon=float(eps))]


@onnx_op("layer_norm")
def layer_norm(g, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    ns = [normalized_shape] if isinstance(normalized_shape, (int, SymInt)) else list(normalized_shape)
    dt = input.dtype
    if weight is not None:
        scale = g.input(weight, dt)
    elif has_symint(ns):       # (group_norm's decomposition over a dynamic height: ones of the run-time size)
        ct = pt.float32 if dt is pt.bfloat16 else dt
        one = g.onnx.numpy_helper.from_array(np.array([1], dtype=ct.numpy), name="value")
        scale = g.node("ConstantOfShape", [g.ints(ns)], value=one)
        scale = scale if ct is dt else g.cast(scale, dt)
    else:
        scale = g.const(np.ones([int(n) for n in ns], dt.numpy))
    ins = [g.input(input), scale] + ([g.input(bias, dt)] if bias is not None else [])
    return [g.node("LayerNormalization", ins, axis=-len(ns), epsilon=float(eps))]


# ---- softmax ---------------------------------------------------------------------------------------
def _softmax(onnx_type):
    def emit(g, input, dim, dtype=None):
        out = g.out.dtype
        ct = opmath(out)
        x = g.input(input, ct)
        if input.ndim == 0:
            r = g.node("Softmax" if onnx_type == "Softmax" else "LogSoftmax",
                       [g.unsqueeze(x, [0])], axis=0)
            return _finish(g, g.squeeze(r, [0]), ct)
        return _finish(g, g.node(onnx_type, [x], axis=int(dim)), ct)
    return emit


onnx_op("softmax")(_softmax("Softmax"))
onnx_op("log_softmax")(_softmax("LogSoftmax"))


# ---- pooling -------------------------------------------------------------------------------------
def _pool_declines(opset, input, kernel_size, stride=None, padding=0, *rest, **kw):
    args = dict(zip(("dilation", "ceil_mode", "return_indices"), rest), **kw)
    if args.get("ceil_mode"):
        return "ceil_mode=True"
    if args.get("return_indices"):
        return "return_indices=True"
    if not input.dtype.is_floating_point:
        return f"{input.dtype} input"
    return None


def _strides(kernel_size, stride):
    return _pair(kernel_size) if stride is None or stride == [] or stride == () else _pair(stride)


@onnx_op("max_pool2d", declines=_pool_declines)
def max_pool2d(g, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    p = _pair(padding)
    attrs = dict(kernel_shape=_pair(kernel_size), strides=_strides(kernel_size, stride), pads=p + p,
                 dilations=_pair(dilation))
    return _batched(g, input, 2, lambda x: g.node("MaxPool", [x], **attrs))


def _avg_declines(opset, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                  divisor_override=None):
    if ceil_mode:
        return "ceil_mode=True"
    if divisor_override:
        return "divisor_override"
    if not input.dtype.is_floating_point:
        return f"{input.dtype} input"
    return None


@onnx_op("avg_pool2d", declines=_avg_declines)
def avg_pool2d(g, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    p = _pair(padding)
    attrs = dict(kernel_shape=_pair(kernel_size), strides=_strides(kernel_size, stride), pads=p + p,
                 count_include_pad=int(bool(count_include_pad)))
    return _batched(g, input, 2, lambda x: g.node("AveragePool", [x], **attrs))


@onnx_op("embedding", declines=lambda opset, input, weight, padding_idx=None, max_norm=None, *a, **k:
         "max_norm (it renormalizes the weight in place)" if max_norm is not None else None)
def embedding(g, input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    return [g.node("Gather", [g.input(weight), g.input(input, pt.int64)], axis=0)]


# ---- reductions ----------------------------------------------------------------------------------
def _axes(dim, ndim):
    """Reduction axes: None (or an empty list, as PyTorch) reduces every dim."""
    if dim is None:
        return None
    dims = [dim] if isinstance(dim, int) else list(dim)
    if not dims:
        return None
    return [d + ndim if d < 0 else d for d in dims] if ndim else None


def _reduction(onnx_type, compute=None, keep_nan=False):
    def emit(g, input, dim=None, keepdim=False, *, dtype=None):
        out = g.out.dtype
        ct = compute(out) if compute else opmath(out)
        x = g.input(input, ct)
        axes = _axes(dim, input.ndim)
        r = g.reduce(onnx_type, x, axes, keepdim)
        if keep_nan and ct.is_floating_point:     # onnxruntime's ReduceMax/ReduceMin skip NaN; eager gives it
            nan = g.reduce("ReduceMax", g.cast(g.node("IsNaN", [x]), pt.int32), axes, keepdim)
            r = g.node("Where", [g.cast(nan, pt.bool), g.scalar(float("nan"), ct), r])
        if input.ndim == 0:
            r = g.reshape(r, [])
        return _finish(g, r, ct)
    return emit


onnx_op("sum")(_reduction("ReduceSum"))
onnx_op("prod")(_reduction("ReduceProd"))
_mean = _reduction("ReduceMean")


@onnx_op("mean")
def mean(g, input, dim=None, keepdim=False, *, dtype=None):
    """ReduceMean, but a mean over no elements is NaN as eager (onnxruntime's ReduceMean gives 0):
    the sum divided by the count where the count is 0 or follows a dynamic axis."""
    axes = _axes(dim, input.ndim)
    counted = [input.dims[a] for a in (range(input.ndim) if axes is None else axes)]
    if not has_symint(counted) and int(np.prod(counted, dtype=np.int64)) != 0:
        return _mean(g, input, dim, keepdim, dtype=dtype)
    ct = opmath(g.out.dtype)
    total = g.reduce("ReduceSum", g.input(input, ct), axes, keepdim)
    if has_symint(counted):
        count = g.cast(g.node("ReduceProd", [g.ints(counted)], keepdims=0), ct)
    else:
        count = g.scalar(0, ct)
    return _finish(g, g.node("Div", [total, count]), ct)


onnx_op("amax")(_reduction("ReduceMax", lambda out: pt.int32 if out is pt.bool else opmath(out), keep_nan=True))
onnx_op("amin")(_reduction("ReduceMin", lambda out: pt.int32 if out is pt.bool else opmath(out), keep_nan=True))


def _logic_reduction(onnx_type):
    def emit(g, input, dim=None, keepdim=False, *, dtype=None):
        x = g.cast(g.input(input, pt.bool), pt.int32)
        r = g.reduce(onnx_type, x, _axes(dim, input.ndim), keepdim)
        if input.ndim == 0:
            r = g.reshape(r, [])
        return [g.cast(r, g.out.dtype)]
    return emit


onnx_op("all")(_logic_reduction("ReduceMin"))
onnx_op("any")(_logic_reduction("ReduceMax"))


def _arg(onnx_type):
    def emit(g, input, dim=None, keepdim=False):
        ct = opmath(input.dtype) if input.dtype is not pt.bool else pt.int32
        x = g.input(input, ct)
        if dim is None or input.ndim == 0:
            x = g.reshape(x, [-1])
            return [g.reshape(_nan_first(g, onnx_type, x, input, 0, 0), g.out.dims)]
        return [_nan_first(g, onnx_type, x, input, int(dim), int(bool(keepdim)))]
    return emit


def _nan_first(g, onnx_type, x, input, axis, keepdims):
    """ArgMax/ArgMin, where (as eager and torch) the first NaN wins: ONNX Runtime skips NaN."""
    r = g.node(onnx_type, [x], axis=axis, keepdims=keepdims)
    if not input.dtype.is_floating_point:
        return r
    nan = g.cast(g.node("IsNaN", [x]), pt.int32)
    first = g.node("ArgMax", [nan], axis=axis, keepdims=keepdims)
    some = g.reduce("ReduceMax", nan, [axis], keepdims)
    return g.node("Where", [g.cast(some, pt.bool), first, r])


onnx_op("argmax")(_arg("ArgMax"))
onnx_op("argmin")(_arg("ArgMin"))
