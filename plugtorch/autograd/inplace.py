"""In-place ops under autograd.

Every in-place op is its out-of-place op followed by ``copy_`` into the destination, so
``copy_`` is the only in-place op autograd has to understand. Writing into a view of a tensor
rebases the base's history onto a CopySlices node, as PyTorch does.
"""
from __future__ import annotations

import threading

from plugtorch import _dtypes
from plugtorch.autograd import formulas as F
from plugtorch.autograd.graph import Node, edge, move_retained_grad, next_seq
from plugtorch.dispatch import dispatcher as D
from plugtorch.dispatch import registry


def check_inplace(t, opname="in-place operation"):
    if not D.grad_state.enabled:
        return
    if t.grad_fn is None and t._rg:
        raise RuntimeError(f"a leaf Variable that requires grad is being used in an in-place operation "
                           f"({opname}). Wrap it in plugtorch.no_grad() or work on a clone.")
    b = t._base
    # PyTorch asks whether the view requires grad and its base is a leaf: the base itself may not
    # require grad (x = b.reshape(3).requires_grad_(); x[0].mul_(2) would rebase x silently)
    if b is not None and b.grad_fn is None and (b._rg or t._rg):
        raise RuntimeError(f"a view of a leaf Variable that requires grad is being used in an in-place "
                           f"operation ({opname}). Wrap it in plugtorch.no_grad() or work on a clone.")


class CopyBackward(Node):
    """dst.copy_(src) on a tensor that is not a view: src gets the gradient; dst's old history,
    when given (its value was overwritten, not read), gets zeros, as PyTorch's (so after
    y = x * 2; y.fill_(1), x.grad is zeros rather than None)."""

    __slots__ = ("seq", "next_functions", "src_shape", "src_dtype", "_pre_hooks", "_post_hooks")
    n_outputs = 1

    def __init__(self, src, old=None):
        self._pre_hooks = self._post_hooks = None
        self.next_functions = (edge(src),) if old is None else (edge(src), old)
        self.seq = next_seq()
        self.src_shape = tuple(src.shape)
        self.src_dtype = src._dtype

    def name(self):
        return "CopyBackwards"

    def apply(self, grads, create_graph):
        g = grads[0]
        g_src = _cast(F.sum_to(g, self.src_shape), self.src_dtype)
        return [g_src] if len(self.next_functions) == 1 else [g_src, g.new_zeros(g.shape)]


class _State(threading.local):
    src_from_dst = False   # set by inplace(): its src is computed from dst, which gets its gradient there


_state = _State()


def _reaches(src, old):
    """Whether src's history reaches the edge ``old`` within two steps (x.mul_(w) computes src
    from x or its clone: x's old history then gets its gradient through src already)."""
    fn = src.grad_fn
    if fn is None:
        return False
    for e in fn.next_functions:
        if e[0] is not None and (e == old or any(e2 == old for e2 in getattr(e[0], "next_functions", ()))):
            return True
    return False


class CopySlices(Node):
    """A base tensor after one of its views was written in place."""

    __slots__ = ("seq", "next_functions", "view_fn", "src_shape", "src_dtype", "_pre_hooks", "_post_hooks")
    n_outputs = 1

    def __init__(self, base_edge, src, view_fn):
        self._pre_hooks = self._post_hooks = None
        self.next_functions = (base_edge, edge(src))
        self.seq = next_seq()
        self.view_fn = view_fn
        self.src_shape = tuple(src.shape)
        self.src_dtype = src._dtype

    def name(self):
        return "CopySlices"

    def apply(self, grads, create_graph):
        import plugtorch as pt
        g = grads[0]
        g_src = _cast(F.sum_to(self.view_fn(g), self.src_shape), self.src_dtype)
        z = g.clone()   # the overwritten region gets no gradient
        self.view_fn(z).copy_(pt.zeros((), dtype=g.dtype, device=g.device))
        return [z, g_src]


def _cast(g, dtype):
    from plugtorch.autograd.engine import cast_grad   # a complex gradient of a real source: its real part
    return g if g._dtype is dtype else cast_grad(g, dtype)


def _differentiable(dtype):
    return dtype.is_floating_point or dtype.is_complex


def record_copy(op, args, kwargs):
    """Record ``dst.copy_(src)``: run it, then point dst's (or its base's) history at it."""
    dst, src = args[0], args[1]
    check_inplace(dst, "copy_")
    if dst._untracked_view and (src._rg or (dst._base is not None and dst._base._rg)):
        raise RuntimeError(
            "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given "
            "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
            "moving both the view and the inplace either both inside the no_grad block (if you don't want "
            "the inplace to be tracked) or both outside (if you want the inplace to be tracked).")
    D.grad_state.enabled = False
    try:
        D.run(op, args, kwargs)
    finally:
        D.grad_state.enabled = True
    if not (src._rg or dst._rg or (dst._base is not None and dst._base._rg)):
        return dst
    if not _differentiable(dst._dtype):
        return dst
    if dst._base is None:
        # dst keeps requiring grad even when src does not (h.zero_(): its grad is then zero)
        old = edge(dst) if dst.grad_fn is not None and not _state.src_from_dst else None
        old_fn, old_nr = dst.grad_fn, dst._out_nr
        dst.grad_fn = CopyBackward(src, None if old is None or _reaches(src, old) else old)
        dst._rg = True
        dst._out_nr = 0
        move_retained_grad(dst, old_fn, old_nr)
        _rebase_views(dst, None)
        return dst
    base = dst._base
    node = CopySlices(edge(base), src, dst._view_fn)
    old_fn, old_nr = base.grad_fn, base._out_nr
    base.grad_fn = node
    base._rg = True
    base._out_nr = 0
    move_retained_grad(base, old_fn, old_nr)
    _rebase_views(base, None)           # every live view (dst too) now reads the new history
    return dst


def _rebase_views(base, skip):
    """Point each live view of ``base`` at the base's new history (as PyTorch regenerates a
    view's grad_fn after an in-place write to its base or a sibling view)."""
    views = base._views
    if not views:
        return
    for v in list(views):
        if v is skip or v._view_fn is None or not _differentiable(v._dtype):
            continue
        fresh = v._view_fn(base)
        old_fn, old_nr = v.grad_fn, v._out_nr
        v.grad_fn = fresh.grad_fn
        v._rg = True
        v._out_nr = 0
        move_retained_grad(v, old_fn, old_nr)


F.FORMULAS["copy_"] = F.Formula(None, frozenset(), False, record_inplace=record_copy)


def can_cast(frm, to) -> bool:
    return frm.category <= to.category


_VALUE_OPS = frozenset({"masked_fill", "index_fill"})   # a 0-d tensor argument there is a number, read once
# ops whose operands are read before self is written, as the out-of-place op reads them: one in
# self's memory is cloned first (PyTorch computes masked_scatter_ from a source overlapping self:
# a.masked_scatter_(a > 2, a[:3]) gives [0, 1, 2, 0, 1, 2] for a = arange(6.))
_READ_FIRST_OPS = frozenset({"masked_scatter"})


def inplace(self, op, args, kwargs):
    """``self.op_(*args)``: compute ``op(self, *args)`` and copy the result into ``self``."""
    dt = kwargs.get("dtype") if kwargs else None
    if dt is not None and _dtypes.to_dtype(dt) is not self._dtype:   # x.cumsum_(0, dtype=float64): PyTorch refuses
        raise RuntimeError(f"{op.name}_(): Bad in-place call: input tensor dtype {self._dtype} and output tensor "
                           f"dtype {_dtypes.to_dtype(dt)} should match; leave dtype= out or use {op.name}()")
    vc = self._vc
    if vc is not None:   # an operand partly in self's memory: refused, as PyTorch does
        if op.name in _READ_FIRST_OPS:
            args = tuple(a.clone() if getattr(a, "_vc", None) is vc else a for a in args)
        for a in args:
            if getattr(a, "_vc", None) is vc and not (a.ndim == 0 and op.name in _VALUE_OPS):
                from plugtorch.dispatch.meta import check_no_partial_overlap
                check_no_partial_overlap(op.name + "_", self, a)
    recording = D.grad_state.enabled and (self._rg or D._requires_grad(args) or
                                          (self._base is not None and self._base._rg))
    src = self
    if recording:
        check_inplace(self, op.name + "_")
        f = F.FORMULAS.get(op.name)
        if f is None or f.saves is None or 0 in f.saves:
            src = self.clone()   # the formula reads self's old value: keep it intact
    fn = getattr(op, "fn", None)   # a public wrapper (add with alpha=) rather than an op
    try:   # (free unless raised: a TypeError from binding the arguments names the method)
        if not recording and fn is None:
            done = D.inplace_kernel(op, self, args, kwargs)
            if done is not None:
                return done
        out = fn(src, *args, **kwargs) if fn is not None else D.dispatch(op, src, *args, **kwargs)
    except TypeError as e:
        named = None if fn is not None else D.bad_arguments(op.name + "_", op, (self, *args), kwargs, e)
        if named is None:
            raise
        raise named from None
    if isinstance(out, tuple):
        out = out[0]
    if self._dtype.is_complex and out._dtype.is_floating_point:   # PyTorch: "In-place abs is not supported ..."
        # (a bool result, z.eq_(w) or z.logical_not_(), is written back as 0 and 1, as PyTorch's)
        raise RuntimeError(f"{op.name}_(): in-place {op.name} is not supported for complex tensors: its result is "
                           f"real ({out._dtype}); use the out-of-place x.{op.name}()")
    if not can_cast(out._dtype, self._dtype):
        raise RuntimeError(f"{op.name}_(): result type {out._dtype.name.capitalize()} can't be cast to "
                           f"the desired output type {self._dtype.name.capitalize()}")
    if tuple(out.shape) != tuple(self.shape):
        raise RuntimeError(f"{op.name}_(): output with shape {list(self.shape)} doesn't match the "
                           f"broadcast shape {list(out.shape)}")
    if not recording:
        return D.dispatch(_COPY, self, out)
    _state.src_from_dst = True
    try:
        return D.dispatch(_COPY, self, out)
    finally:
        _state.src_from_dst = False


_COPY = registry.get("copy_")
