"""Forward-mode automatic differentiation: ``plugtorch.autograd.forward_ad``, PyTorch's API.

Inside ``dual_level()``, ``make_dual(x, t)`` gives a tensor carrying the tangent ``t``; every op
on it gives a result carrying J·t, read back with ``unpack_dual``:

>>> import plugtorch as pt
>>> import plugtorch.autograd.forward_ad as fwAD
>>> with fwAD.dual_level():
...     y = fwAD.make_dual(pt.tensor([0.0, 1.0]), pt.tensor([1.0, 1.0])).sin() * 2
...     [round(v, 4) for v in fwAD.unpack_dual(y).tangent.tolist()]
[2.0, 1.0806]

How: no op has a second, forward formula. A dispatch mode, active inside the level, runs each op
whose arguments carry tangents once, under autograd, and gets J·t from the op's backward formula
by the double-vjp trick: ``g -> J^T g`` is linear in ``g``, so the gradient of ``<J^T g, t>`` by
``g`` is ``J t`` (two small reverse passes over that one op). So every op with a backward
formula, a plug-in backend's included, has forward-mode AD, at three to five times the op's cost.
In-place ops reach the mode as their out-of-place op and ``copy_`` (autograd/inplace.py); a
custom ``autograd.Function`` uses its ``jvp`` (with ``ctx.save_for_forward``), as PyTorch's.

Differences from PyTorch: a write through a view updates the tangents of its base and of the
base's other views that carry one (make_dual's result is a view of its primal), but a view without
a tangent gets none from it; one level only (PyTorch has one too); a tangent that requires grad
gives a result tangent without history (no forward-over-reverse through a tangent); gradients
computed inside a level carry no tangents (no forward-over-reverse).
"""
from __future__ import annotations

import threading
import weakref
from collections import namedtuple

from plugtorch.dispatch import dispatcher as D
from plugtorch.dispatch.registry import OUT_INPLACE, OUT_VIEW

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class _Level(threading.local):
    level = None          # the active level (0) or None
    mode = None
    duals = None          # weak references to the tensors given a tangent at this level
    prune_at = 256        # the length at which dead references are dropped
    suspended = 0         # > 0 inside a custom Function's forward (its jvp gives the tangents)


_state = _Level()


def _tensor():
    from plugtorch._tensor import Tensor
    return Tensor


def enter_dual_level() -> int:
    """Start the forward-AD level (PyTorch allows one at a time) and return it (0)."""
    if _state.level is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _state.level = 0
    _state.duals = []
    _state.mode = _ForwardMode()
    D.push_mode(_state.mode)
    return 0


def exit_dual_level(*, level=None) -> None:
    """End the level: every tangent given inside it is dropped."""
    if _state.level is None:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one created. This is not "
                           "supported.")
    D.pop_mode(_state.mode)
    for ref in _state.duals:
        t = ref()
        if t is not None:
            t._fw_grad = None
    _state.level = _state.mode = _state.duals = None


class dual_level:
    """``with dual_level():`` runs its block with forward-mode AD on (PyTorch's context manager)."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False


def _set_tangent(t, tangent):
    t._fw_grad = tangent
    duals = _state.duals
    duals.append(weakref.ref(t))
    if len(duals) > _state.prune_at:   # drop the dead ones now and then: a long loop inside one level
        duals[:] = [r for r in duals if r() is not None]    # keeps only the live tensors' references
        _state.prune_at = max(256, 2 * len(duals))


def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` carrying ``tangent`` (same size; floating or complex) at this level."""
    Tensor = _tensor()
    if _state.level is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual(): expected tensors, got {type(tensor).__name__} and {type(tangent).__name__}")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if tangent.device != tensor.device:
        raise RuntimeError(f"make_dual(): the tangent is on {tangent.device} and the primal on {tensor.device}; "
                           "move the tangent with .to(primal.device)")
    _state.suspended += 1
    try:
        dual = tensor.view_as(tensor)
        if not _same_layout(tangent, tensor) and not _overlaps(tensor):
            tangent = _in_layout_of(tangent, tensor)
    finally:
        _state.suspended -= 1
    _set_tangent(dual, tangent)
    return dual


def _same_layout(a, b) -> bool:
    return tuple(a.stride()) == tuple(b.stride()) and a.storage_offset() == b.storage_offset()


def _overlaps(t) -> bool:
    """Whether two elements of ``t`` share one memory location (a stride 0, an overlapping as_strided)."""
    extent = 0
    for size, stride in sorted(((n, s) for n, s in zip(t.shape, t.stride()) if n > 1), key=lambda d: d[1]):
        if stride <= extent:
            return True
        extent += (size - 1) * stride
    return False


def _in_layout_of(tan, p):
    """``tan``'s values laid out as ``p`` is (its strides and storage offset), so that a view op that
    reads the layout (view, as_strided, the decompositions through it: diagonal ...) takes the
    same elements of the tangent as of the primal (PyTorch gives a tangent its primal's layout too)."""
    import plugtorch as pt
    n = p.storage_offset() + 1 + sum((size - 1) * stride for size, stride in zip(p.shape, p.stride()))
    if p.numel() == 0:
        n = p.storage_offset()
    buf = pt.zeros(n, dtype=tan.dtype, device=tan.device)
    out = buf.as_strided(tuple(p.shape), tuple(p.stride()), p.storage_offset())
    out.copy_(tan)
    return out


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)``: a view of ``tensor`` without its tangent, and the tangent (None when
    it has none, or outside a level)."""
    Tensor = _tensor()
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual(): expected a Tensor, got {type(tensor).__name__}")
    tangent = tensor._fw_grad
    if _state.level is None or tangent is None:
        return UnpackedDualTensor(tensor, None)
    _state.suspended += 1
    try:
        primal = tensor.view_as(tensor)
    finally:
        _state.suspended -= 1
    primal._fw_grad = None
    return UnpackedDualTensor(primal, tangent)


# ---- the mode ------------------------------------------------------------------------------

def _walk(x, fn):
    """``x`` with ``fn`` applied to each tensor inside lists and tuples."""
    if isinstance(x, _tensor()):
        return fn(x)
    if x.__class__ in (list, tuple):
        return x.__class__(_walk(v, fn) for v in x)
    return x


def _tangents_in(args, kwargs) -> bool:
    Tensor = _tensor()
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor):
            if a._fw_grad is not None:
                return True
        elif a.__class__ in (list, tuple):
            if any(isinstance(b, Tensor) and b._fw_grad is not None for b in a):
                return True
    return False


# ops whose results carry no tangent whatever their inputs (PyTorch: detach, argmax ...)
_NO_TANGENT = frozenset({"detach", "alias_detach"})
# in-place ops whose result does not depend on the destination's old value
_OVERWRITE = frozenset({"fill_", "zero_", "uniform_", "normal_", "random_", "exponential_", "geometric_",
                        "cauchy_", "log_normal_", "bernoulli_"})


class _ForwardMode(D.DispatchMode):
    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        if _state.suspended or not _tangents_in(args, kwargs) or op.name in _NO_TANGENT:
            return call(args, kwargs)
        if op.out_kind == OUT_INPLACE or "inplace" in op.tags:
            return _inplace(op, args, kwargs, call)
        if op.out_kind == OUT_VIEW:
            return _view(op, args, kwargs, call)
        if not (op.differentiable or op.decomposition is not None):
            return call(args, kwargs)
        return _functional(op, args, kwargs, call)


def _shadowed(args, kwargs, keep_graph):
    """The arguments with each tensor carrying a tangent replaced by a leaf requiring grad that shares
    its memory (or kept, when it already requires grad and the caller's graph must see it), and the
    (tensor used, tangent) pairs."""
    pairs = []
    seen = {}   # one shadow per tensor, however often it is passed (x * x)

    def shadow(t):
        tan = t._fw_grad
        if tan is None or not (t.is_floating_point() or t.is_complex()):
            return t
        u = seen.get(id(t))
        if u is None:
            u = seen[id(t)] = t if (keep_graph and t.requires_grad) else t.detach().requires_grad_()
            pairs.append((u, tan))
        return u
    return _walk(list(args), shadow), {k: _walk(v, shadow) for k, v in kwargs.items()}, pairs


def _jvp(outs, pairs):
    """J·t of each output in ``outs`` (None where it does not depend on the tangents)."""
    import plugtorch as pt
    from plugtorch.autograd import grad
    diff = [o for o in outs if o is not None and o.requires_grad]
    # an output that depends on the tangents' inputs has a tangent, zeros where J is 0 (floor)
    res = {id(o): None for o in diff}
    if diff and pairs:
        with pt.enable_grad():
            gs = [pt.zeros_like(o).requires_grad_() for o in diff]
            ins = [u for u, _ in pairs]
            vjps = grad(diff, ins, gs, create_graph=True, allow_unused=True)
            used = [(v, t.to(v.dtype) if t.dtype != v.dtype else t) for v, (_, t) in zip(vjps, pairs)
                    if v is not None and v.requires_grad]
            if used:
                jts = grad([v for v, _ in used], gs, [t for _, t in used], retain_graph=True, allow_unused=True)
                for o, jt in zip(diff, jts):
                    res[id(o)] = jt.detach() if jt is not None else None
    out = []
    for o in outs:
        if o is None or id(o) not in res:
            out.append(None)
        else:
            jt = res[id(o)]
            out.append(jt if jt is not None else pt.zeros_like(o).detach())
    return out


def _functional(op, args, kwargs, call):
    import plugtorch as pt
    user_grad = D.grad_state.enabled
    sargs, skw, pairs = _shadowed(args, kwargs, user_grad)
    # Two inputs kept in the caller's graph may depend on each other (y + f(y)): the gradient by one
    # would then add the path through the other, and J·t count it twice. Then J·t comes from
    # independent shadows, and the caller's result from a second call on the arguments themselves
    # (a random op keeps one call, so that its draw is the primal's).
    given = {id(a) for a in _flat((*args, *kwargs.values()))}
    kept = [u for u, _ in pairs if id(u) in given]
    dependent = len(kept) >= 2 and any(u.grad_fn is not None for u in kept) and "random" not in op.tags
    if dependent:
        sargs, skw, pairs = _shadowed(args, kwargs, False)
    with pt.enable_grad():
        out = call(sargs, skw)
    Tensor = _tensor()
    single = isinstance(out, Tensor)
    outs = [out] if single else list(out) if isinstance(out, (tuple, list)) else []
    outs = [o if isinstance(o, Tensor) and (o.is_floating_point() or o.is_complex()) else None for o in outs]
    jts = _jvp(outs, pairs)
    # the result keeps its history only when the caller's own inputs asked for one
    keep = user_grad and any(a.requires_grad for a in _flat(args))
    if dependent:
        out = call(args, kwargs)
    if single:
        r = out if keep else _plain(out)
        if jts[0] is not None:
            _set_tangent(r, jts[0])
        return r
    if not isinstance(out, (tuple, list)):
        return out
    items = []
    for o, jt in zip(out, jts + [None] * (len(out) - len(jts))):
        r = o if keep else _plain(o)
        if jt is not None:
            _set_tangent(r, jt)
        items.append(r)
    return type(out)(items) if not hasattr(out, "_fields") else type(out)(*items)


def _flat(args):
    Tensor = _tensor()
    for a in args:
        if isinstance(a, Tensor):
            yield a
        elif a.__class__ in (list, tuple):
            yield from (b for b in a if isinstance(b, Tensor))


def _plain(o):
    """``o`` without its history through the shadow leaves."""
    return o.detach() if isinstance(o, _tensor()) and o.requires_grad else o


def _view(op, args, kwargs, call):
    """A view's tangent is the same view of its input's tangent (a view op is linear)."""
    out = call(args, kwargs)
    tan = args[0]._fw_grad
    if tan is None:
        return out
    _state.suspended += 1
    try:
        if not _same_layout(tan, args[0]) and not _overlaps(args[0]):
            # (a tangent computed by an op's backward is contiguous where its primal may not be)
            tan = _in_layout_of(tan, args[0])
        tv = call.redispatch(op, tan, *args[1:], **kwargs)
    finally:
        _state.suspended -= 1
    if isinstance(out, _tensor()):
        _set_tangent(out, tv)
    else:
        for o, t in zip(out, tv):
            _set_tangent(o, t)
    return out


def _inplace(op, args, kwargs, call):
    res = _inplace_tangent(op, args, kwargs, call)
    dst = args[0]
    if dst._base is not None and dst._view_fn is not None and (dst._fw_grad is not None or
                                                                 dst._base._fw_grad is not None):
        _write_through(dst)
    return res


def _write_through(view):
    """The base's tangent after an in-place write into ``view``: the view's part of it replaced; the
    base's other views carrying tangents take their parts of it."""
    import plugtorch as pt
    base = view._base
    bt = base._fw_grad
    # the other views of the base carrying tangents (make_dual's result is a view of its primal)
    others = [d for d in (r() for r in _state.duals) if d is not None and d is not view and d._base is base
              and d._view_fn is not None and d._fw_grad is not None]
    _state.suspended += 1
    try:
        if bt is None:   # the base's tangent is that of its views, zero elsewhere
            bt = pt.zeros_like(base)
            for d in others:
                d._view_fn(bt).copy_(d._fw_grad)
        else:
            bt = bt.clone()
        part = view._view_fn(bt)
        part.copy_(view._fw_grad if view._fw_grad is not None else pt.zeros_like(part))
        for d in others:     # and they see the write
            d._fw_grad = d._view_fn(bt)
    finally:
        _state.suspended -= 1
    _set_tangent(base, bt)


def _inplace_tangent(op, args, kwargs, call):
    import plugtorch as pt
    dst = args[0]
    had = dst._fw_grad
    if op.name == "copy_":
        res = call(args, kwargs)
        src = args[1]
        tan = getattr(src, "_fw_grad", None)
        if tan is not None:
            tan = tan.expand(tuple(dst.shape)).to(dst.dtype).clone()
        elif had is not None:
            tan = pt.zeros_like(dst)
        if tan is not None:
            _set_tangent(dst, tan)
        return res
    if op.name in _OVERWRITE or "random" in op.tags:
        res = call(args, kwargs)
        if had is not None:
            _set_tangent(dst, pt.zeros_like(dst))
        return res
    # any other in-place op: the same op on a clone of the destination, under autograd, gives J·t
    sargs, skw, pairs = _shadowed(args, kwargs, False)
    with pt.enable_grad():
        head = sargs[0]
        work = head.clone() if head.requires_grad else head.detach().clone().requires_grad_()
        if not head.requires_grad:
            pairs.append((work, pt.zeros_like(work)))
        out = call.redispatch(op, work, *sargs[1:], **skw)
        out = out if isinstance(out, _tensor()) else work
    jt = _jvp([out], pairs)[0]
    res = call(args, kwargs)
    if jt is not None:
        _set_tangent(dst, jt)
    return res
