"""The optimizers' multi-tensor updates, declared as composite ops of the registry.

``_fused_sgd_`` and ``_fused_adam_`` (named after PyTorch's fused ops; the signatures are
plugtorch's: options positional, no grad_scale/found_inf, AdamW as ``decoupled_weight_decay``)
update every parameter of a group in one dispatch: their decompositions are the per-tensor updates written with in-place ops, so every
backend runs them, and a backend may register a kernel under the same name that does the whole
list at once (cpu does: it saves several dispatches per parameter per step). A kernel must
round as the decomposition does; the conformance entries ``optim.*``, ``_fused_sgd_`` and
``_fused_adam_`` compare the two on every backend.

>>> import plugtorch as pt
>>> p, g, b = pt.tensor([1.]), pt.tensor([2.]), pt.tensor([1.])
>>> pt.ops._fused_sgd_([p], [g], [b], 0.5, 0.9, 0.0, 0.0, False, False)
>>> p.tolist(), b.tolist()
([-0.45000001788139343], [2.9000000953674316])
"""
from __future__ import annotations

from plugtorch import _dtypes, _ops_public
from plugtorch._dtypes import _FLOAT
from plugtorch._tensor import Tensor
from plugtorch.dispatch.dispatcher import dispatch
from plugtorch.dispatch.meta import device_mismatch
from plugtorch.dispatch.registry import OPS, OUT_RAW, register_op


def _sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One parameter's SGD update, in place (``buf``: its momentum buffer, already holding at
    least the first step's gradient; ignored when momentum is 0)."""
    if p._dtype.itemsize == 2:
        _sgd_update_wide(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize)
        return
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g.add(p, alpha=weight_decay)
    if momentum != 0:
        buf.mul_(momentum).add_(g, alpha=1 - dampening)
        g = g.add(buf, alpha=momentum) if nesterov else buf
    p.add_(g, alpha=-lr)


def _sgd_update_wide(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """The update of a float16 or bfloat16 parameter as PyTorch's fused SGD computes it: the whole
    formula in float64 (float32 where the device lacks it), the buffer and the parameter each
    rounded once when stored, the parameter's step from the unrounded buffer. Rounding after every
    op instead would leave them up to 2 ulps off. One op per multiply and per add, in this order,
    so every backend (and the cpu kernel) gives the same bits."""
    wide = _wide(p)
    pw, gw = p.to(wide), g.to(wide)
    if maximize:
        gw = -gw
    if weight_decay != 0:
        gw = gw + pw * weight_decay
    if momentum != 0:
        bw = buf.to(wide) * momentum + gw * (1 - dampening)
        buf.copy_(bw)
        gw = gw + bw * momentum if nesterov else bw
    if isinstance(lr, Tensor):
        lr = lr.to(p._device).to(wide)
    p.copy_(pw - gw * lr)


def fused_sgd_(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """SGD's update of every parameter in ``params``, in place (``momentum_buffers`` too).

    ``momentum_buffers`` is empty when momentum is 0; otherwise it holds one buffer per
    parameter, each already initialised (SGD's first step copies the gradient into it).
    """
    bufs = momentum_buffers if momentum != 0 else [None] * len(params)
    for p, g, b in zip(params, grads, bufs):
        _sgd_update(p, g, b, lr, momentum, dampening, weight_decay, nesterov, maximize)


def _fused_sgd_meta(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One device for everything; per parameter, a gradient (and a buffer) of its shape and dtype.
    A kernel receives the three lists as native arrays, the options, and the parameters' dtypes."""
    n = len(params)
    bufs = momentum_buffers if momentum != 0 else ()
    if len(grads) != n or (momentum != 0 and len(bufs) != n):
        raise RuntimeError(f"_fused_sgd_(): expected as many gradients and momentum buffers as parameters, got "
                           f"{n} parameters, {len(grads)} gradients and {len(momentum_buffers)} buffers")
    lists = (grads, bufs) if bufs else (grads,)
    if not _all_alike(params, lists):
        _explain("_fused_sgd_", "SGD", params, lists)
    dev = _device(params)
    lr = _lr_arg(lr, dev)
    return dev, ([p._data for p in params], [g._data for g in grads], [b._data for b in bufs], lr,
                             momentum, dampening, weight_decay, bool(nesterov), bool(maximize),
                             [p._dtype for p in params]), None


def _number(v):
    """A learning rate given as a 0-d tensor (PyTorch allows it) as the number a kernel takes."""
    return v.item() if isinstance(v, Tensor) else v


# the backends whose fused optimizer kernels take a learning rate given as a 0-d cpu float tensor
# as its NumPy array, and read it themselves (float(lr)): a traced step then reads the rate at
# each replay (a scheduler fills it in place) instead of guarding the number it read
_LR_ARRAY_BACKENDS = frozenset({"cpu", "cuda"})


def _lr_arg(v, dev):
    """The learning rate as the kernel of device ``dev`` takes it."""
    if isinstance(v, Tensor):
        if dev.type in _LR_ARRAY_BACKENDS and v._device.type == "cpu" and v.ndim == 0 and \
                v._dtype.is_floating_point and not v._dtype.is_complex:
            return v._data
        return v.item()
    return v


def _device(params):
    if params:
        return params[0]._device
    from plugtorch._device import device
    return device("cpu")


def _all_alike(params, lists) -> bool:
    """The common case, checked quickly: tensors of floating dtypes, all on one device, and in each
    of ``lists`` (gradients, buffers ...) one tensor per parameter of its dtype and shape."""
    if not params:
        return True
    dev = params[0]._device
    try:
        for i, p in enumerate(params):
            dt, shape = p._dtype, p._data.shape
            if p._device is not dev or dt.category != _FLOAT or not isinstance(p, Tensor):
                return False
            for lst in lists:
                t = lst[i]
                if t._device is not dev or t._dtype is not dt or t._data.shape != shape or not isinstance(t, Tensor):
                    return False
    except AttributeError:   # not a tensor
        return False
    return True


def _explain(op, algorithm, params, lists):
    """Raise the error that describes why ``_all_alike`` refused the lists."""
    dev = None
    for i, p in enumerate(params):
        for t in (p,) + tuple(lst[i] for lst in lists):
            if not isinstance(t, Tensor):
                raise TypeError(f"{op}(): expected lists of Tensors, got a {type(t).__name__}")
            if dev is None:
                dev = t._device
            elif t._device is not dev:
                raise device_mismatch(op, dev, t._device)
            if t._dtype is not p._dtype or t._data.shape != p._data.shape:
                raise RuntimeError(f"{op}(): parameter {i} is {p._dtype} of shape {tuple(p.shape)} but its "
                                   f"gradient or buffer is {t._dtype} of shape {tuple(t.shape)}")
        if not p._dtype.is_floating_point:
            raise RuntimeError(f"{op}(): parameter {i} has dtype {p._dtype}; {algorithm} updates floating point "
                               "tensors")
    raise AssertionError(f"{op}(): unexplained refusal")   # pragma: no cover


def weight_decay_(p, g, lr, weight_decay, decoupled):
    """PyTorch's two weight decays: decoupled (AdamW's) shrinks ``p`` in place by ``1 - lr * weight_decay``,
    else the gradient gains ``weight_decay * p``. Returns the gradient to use."""
    if weight_decay != 0:
        if decoupled:
            p.mul_(1 - lr * weight_decay)
        else:
            g = g.add(p, alpha=weight_decay)
    return g


# ---- Adam / AdamW ---------------------------------------------------------------------------
def _adam_update(p, g, m, v, vmax, step_t, lr, beta1, beta2, weight_decay, eps, amsgrad, maximize, decoupled):
    """One parameter's Adam step, in place (``step_t``: its 0-d step counter, incremented here)."""
    if p._dtype.itemsize == 2:
        _adam_update_wide(p, g, m, v, vmax, step_t, lr, beta1, beta2, weight_decay, eps, amsgrad, maximize,
                          decoupled)
        return
    if maximize:
        g = -g
    step_t.add_(1)
    g = weight_decay_(p, g, lr, weight_decay, decoupled)
    m.lerp_(g, 1 - beta1)
    v.mul_(beta2).add_(g * g, alpha=1 - beta2)
    if amsgrad:
        vmax.copy_(vmax.maximum(v))
        v = vmax
    # the bias corrections from the step counter with tensor ops (in float64 on its device, as
    # Python's floats would compute them; rounded to the parameter's dtype where a Python float
    # would be), so a traced step reads the counter instead of baking its value in
    t = step_t.to(_dtypes.float64)
    denom = scalar_op(v.sqrt(), "div", (1 - beta2 ** t).sqrt()).add_(eps)
    p.add_(scalar_op(m / denom, "mul", -(lr / (1 - beta1 ** t))))


def _wide(p):
    """The dtype a 16-bit float parameter's update is computed in: float64, float32 where the
    device lacks it."""
    return _dtypes.float64 if p._backend().unsupported_dtype(_dtypes.float64, p._device.index) is None \
        else _dtypes.float32


def _adam_update_wide(p, g, m, v, vmax, step_t, lr, beta1, beta2, weight_decay, eps, amsgrad, maximize,
                      decoupled):
    """A float16 or bfloat16 parameter's Adam step as PyTorch's fused Adam computes it: the whole
    update in float64 (``_wide``), the moments, ``vmax`` and the parameter each rounded once when
    stored, the step taken with the unrounded moments. One op per arithmetic step, in the order of
    the cpu kernel, so every backend gives the same bits."""
    wide = _wide(p)
    dev = p._device
    lr = _as_wide(lr, wide, dev)
    pw, gw = p.to(wide), g.to(wide)
    if maximize:
        gw = -gw
    step_t.add_(1)
    if weight_decay != 0:
        if decoupled:
            pw = pw * _as_wide(1 - lr * weight_decay, wide, dev)
        else:
            gw = gw + pw * weight_decay
    mw = m.to(wide) * beta1 + gw * (1 - beta1)   # (PyTorch's fused kernel's form, not lerp's)
    vw = v.to(wide) * beta2 + gw * gw * (1 - beta2)
    m.copy_(mw)
    v.copy_(vw)
    if amsgrad:
        vw = vmax.to(wide).maximum(vw)
        vmax.copy_(vw)
    t = step_t.to(_dtypes.float64)
    denom = vw.sqrt() / _as_wide((1 - beta2 ** t).sqrt(), wide, dev) + eps
    p.copy_(pw - mw / denom * (lr / _as_wide(1 - beta1 ** t, wide, dev)))


def _as_wide(s, wide, dev):
    """A number or 0-d tensor as a 0-d ``wide`` tensor on ``dev`` (a Python float as is)."""
    return s.to(dev).to(wide) if isinstance(s, Tensor) else s


def scalar_op(x, op, s):
    """``x * s`` or ``x / s`` for a 0-d float64 tensor ``s``, rounded as if ``s`` were a Python float:
    float16/bfloat16 take it as a float32 and round only the result (PyTorch's opmath), the
    others as their own dtype. A traced optimizer step then reads ``s`` from the graph."""
    dt = x._dtype
    wide = dt.is_floating_point and dt.itemsize == 2
    s = s.to(_dtypes.float32 if wide else dt).to(x._device)
    if wide:
        x = x.to(_dtypes.float32)
    r = x * s if op == "mul" else x / s
    return r.to(dt) if wide else r


def fused_adam_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, lr, beta1, beta2,
                weight_decay, eps, amsgrad, maximize, decoupled_weight_decay):
    """Adam's (``decoupled_weight_decay``: AdamW's) update of every parameter, in place: the
    moment estimates, ``max_exp_avg_sqs`` (read and written only with ``amsgrad``) and the 0-d
    step counters too."""
    vmaxs = max_exp_avg_sqs if amsgrad else [None] * len(params)
    for i, p in enumerate(params):
        _adam_update(p, grads[i], exp_avgs[i], exp_avg_sqs[i], vmaxs[i], state_steps[i], lr, beta1, beta2,
                     weight_decay, eps, amsgrad, maximize, decoupled_weight_decay)


def _fused_adam_meta(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, lr, beta1, beta2,
                     weight_decay, eps, amsgrad, maximize, decoupled_weight_decay):
    """One device for the parameters and their state; the step counters are 0-d float tensors
    (on cpu, as PyTorch keeps them, or on that device). A kernel receives the lists as native
    arrays (``max_exp_avg_sqs`` empty without amsgrad), the options, and the parameters' dtypes."""
    n = len(params)
    lists = (grads, exp_avgs, exp_avg_sqs) + ((max_exp_avg_sqs,) if amsgrad else ())
    if any(len(lst) != n for lst in lists) or len(state_steps) != n:
        raise RuntimeError(f"_fused_adam_(): expected one gradient, state tensor and step per parameter, got "
                           f"{n} parameters and lists of {[len(lst) for lst in lists + (state_steps,)]}")
    if not _all_alike(params, lists):
        _explain("_fused_adam_", "Adam", params, lists)
    dev = _device(params)
    for i, s in enumerate(state_steps):
        if (not isinstance(s, Tensor) or s.ndim != 0 or not s._dtype.is_floating_point
                or (s._device is not dev and s._device.type != "cpu")):
            raise RuntimeError(f"_fused_adam_(): step {i} must be a 0-d floating point tensor on cpu or on {dev}, "
                               f"got {s!r}")
    lr = _lr_arg(lr, dev)
    return dev, ([p._data for p in params], [g._data for g in grads], [t._data for t in exp_avgs],
                 [t._data for t in exp_avg_sqs], [t._data for t in max_exp_avg_sqs] if amsgrad else [],
                 [s._data for s in state_steps], lr, beta1, beta2, weight_decay, eps, bool(amsgrad), bool(maximize),
                 bool(decoupled_weight_decay), [p._dtype for p in params]), None


def _register(name, meta, decomposition, written):
    """Register an update op; its public function bumps the versions of the tensors it writes
    (``written(args)``), since a kernel writes their arrays directly; a trace records those writes
    (the registry's ``writes``), not ones into the gradients, which the update only reads."""
    op = OPS.get(name)
    if op is None:
        op = register_op(name, meta, decomposition=decomposition, differentiable=False, out_kind=OUT_RAW,
                         writes=written)

    def fn(*args):
        dispatch(op, *args)
        for t in written(args):
            t._bump_version()
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = decomposition.__doc__
    fn._op = op
    setattr(_ops_public.ops, name, fn)
    return fn


fused_sgd = _register("_fused_sgd_", _fused_sgd_meta, fused_sgd_,
                      lambda a: [*a[0], *(a[2] if a[4] != 0 else ())])
fused_adam = _register("_fused_adam_", _fused_adam_meta, fused_adam_,
                       lambda a: [*a[0], *a[2], *a[3], *(a[4] if a[11] else ()), *a[5]])
