"""``plugtorch.autograd.Function``: user-defined forward/backward pairs.

>>> class Exp(Function):
...     @staticmethod
...     def forward(ctx, x):
...         y = x.exp(); ctx.save_for_backward(y); return y
...     @staticmethod
...     def backward(ctx, g):
...         (y,) = ctx.saved_tensors; return g * y
"""
from __future__ import annotations

from plugtorch.autograd.graph import _FREED, Node, SavedTensor, edge, move_retained_grad, next_seq
from plugtorch.autograd import anomaly_mode, saved_hooks
from plugtorch.autograd import forward_ad as _forward_ad
from plugtorch.dispatch import dispatcher as D


class FunctionCtx:
    def __init__(self):
        self._saved = None
        self.needs_input_grad = ()
        self._non_diff = set()
        self._dirty = set()
        self._node = None
        self.materialize_grads = True

    def save_for_forward(self, *tensors):
        """Tensors ``jvp`` reads as ``ctx.saved_tensors`` (forward-mode AD, autograd.forward_ad)."""
        self._fw_saved = tensors

    def save_for_backward(self, *tensors):
        from plugtorch._tensor import Tensor
        for k, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), but argument {k} is "
                                f"of type {type(t).__name__}; keep other values as attributes of ctx")
        self._to_save = tensors

    @property
    def saved_tensors(self):
        if getattr(self, "_in_jvp", False):
            return tuple(getattr(self, "_fw_saved", ()))
        if self._saved is None:
            raise RuntimeError(_FREED)
        return tuple(s.unpack(self._node) if s is not None else None for s in self._saved)

    def mark_non_differentiable(self, *tensors):
        self._non_diff.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        """Declare inputs that ``forward`` modified in place (and returns): their history is
        rewritten to start at this Function's node, as in PyTorch."""
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class BackwardCFunction(Node):
    """The graph node of one ``Function.apply`` call."""

    def __init__(self, cls, ctx, n_outputs, out_meta):
        self.cls = cls
        self.ctx = ctx
        self.n_outputs = n_outputs
        self.out_meta = out_meta
        self.released = False

    def name(self):
        return self.cls.__name__ + "Backward"

    def __getattr__(self, name):
        # PyTorch's grad_fn of a Function is its ctx: y.grad_fn.saved_tensors, .needs_input_grad
        # and whatever forward stored on ctx read through
        ctx = self.__dict__.get("ctx")
        if ctx is None or name.startswith("__"):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return getattr(ctx, name)

    def release(self):
        self.ctx._saved = None
        self.released = True

    def apply(self, grads, create_graph):
        import plugtorch as pt
        from plugtorch.autograd.formulas import sum_to
        if self.released:
            raise RuntimeError(_FREED)
        if self.ctx.materialize_grads:
            grads = [g if g is not None else pt.zeros(m[0], dtype=m[1], device=m[2])
                     for g, m in zip(grads, self.out_meta)]
        res = self.cls.backward(self.ctx, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n_in = self.n_inputs
        if len(res) != n_in:
            if len(res) < n_in or any(r is not None for r in res[n_in:]):
                raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                                   f"(expected {n_in}, got {len(res)})")
        tensor_positions = set(self._tensor_positions)
        for pos, r in enumerate(res[:n_in]):
            if r is not None and pos not in tensor_positions:
                raise RuntimeError(f"function {self.name()} returned a gradient different than None at "
                                   f"position {pos + 1}, but the corresponding forward input was not a "
                                   f"Tensor ({type(r).__name__}); return None there")
        out = []
        for pos, (shape, dtype) in zip(self._tensor_positions, self.in_meta):
            g = res[pos] if pos < len(res) else None
            if g is not None:
                if not isinstance(g, pt.Tensor):
                    raise RuntimeError(f"function {self.name()} returned a gradient of type "
                                       f"{type(g).__name__} at index {pos}; expected a Tensor or None")
                if tuple(g.shape) != shape:
                    if not _expandable(shape, tuple(g.shape)):
                        raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index "
                                           f"{pos} - got {list(g.shape)} but expected shape compatible "
                                           f"with {list(shape)}")
                    g = sum_to(g, shape)
                if g.dtype is not dtype:
                    g = g.to(dtype)
            out.append(g)
        return out


def _expandable(shape, target):
    """Whether ``shape`` broadcasts to ``target`` (so a gradient of ``target`` sums back)."""
    if len(shape) > len(target):
        return False
    return all(s == t or s == 1 for s, t in zip(reversed(shape), reversed(target)))


class Function:
    """Subclass with static ``forward(ctx, ...)`` and ``backward(ctx, *grads)``; call ``apply``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward(ctx, *grads) to be differentiated")

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__}: legacy autograd functions (an instance called like a "
                           "function) are not supported; give the subclass static forward/backward methods "
                           f"and call {type(self).__name__}.apply(...)")

    @staticmethod
    def jvp(ctx, *grad_inputs):
        """Optional: the outputs' tangents from the inputs' (forward-mode AD); tensors saved with
        ``ctx.save_for_forward`` read as ``ctx.saved_tensors``."""
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it with "
                                  "forward mode AD.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Optional: with it, ``forward(*args)`` takes no ctx and ``setup_context(ctx, inputs,
        output)`` saves what backward needs (PyTorch's new-style Function)."""
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def apply(cls, *args, **kwargs):
        from plugtorch._tensor import Tensor
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        recording = D.grad_state.enabled and any(ctx.needs_input_grad)
        fw = _forward_ad._state
        dual = fw.level is not None and any(isinstance(a, Tensor) and a._fw_grad is not None for a in args)
        gs = D.grad_state
        prev = gs.enabled
        gs.enabled = False
        gs.in_function += 1
        fw.suspended += dual     # (the tangents come from jvp, not from forward's ops)
        try:
            if cls.setup_context is not Function.setup_context:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        finally:
            gs.enabled = prev
            gs.in_function -= 1
            fw.suspended -= dual
        if dual:
            out = _forward_tangents(cls, ctx, args, out)
        if not recording:
            return out
        outs = out if isinstance(out, tuple) else (out,)
        meta = [(tuple(o.shape), o.dtype, o.device) if isinstance(o, Tensor) else ((), None, None) for o in outs]
        node = BackwardCFunction(cls, ctx, len(outs), meta)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        node._tensor_positions = positions
        node.n_inputs = len(args)
        node.in_meta = [(tuple(args[i].shape), args[i].dtype) for i in positions]
        node.next_functions = tuple(edge(args[i]) for i in positions)
        node.seq = next_seq()
        ctx._node = node
        to_save = getattr(ctx, "_to_save", ())
        out_nrs = {id(o): k for k, o in enumerate(outs)}
        in_ids = {id(a) for a in args}
        ctx._saved = [None if t is None else SavedTensor(t, is_output=id(t) in out_nrs, out_nr=out_nrs.get(id(t), 0))
                      for t in to_save]
        if saved_hooks.active or anomaly_mode.state.enabled:   # (rarely: both off is one check)
            if anomaly_mode.state.enabled:
                node._anomaly_trace = anomaly_mode.forward_stack()
            ctx._saved = saved_hooks.pack_saved(ctx._saved)
        result = []
        for k, o in enumerate(outs):
            differentiable = isinstance(o, Tensor) and (o.dtype.is_floating_point or o.dtype.is_complex)
            if differentiable and id(o) not in ctx._non_diff:
                old_fn = old_nr = None
                if id(o) in ctx._dirty:
                    _check_dirty(cls, o)
                    old_fn, old_nr = o.grad_fn, o._out_nr
                elif o.grad_fn is not None or o._base is not None or id(o) in in_ids or o._rg:
                    o = o.detach()   # never rewrite the history of a tensor the caller holds
                o._rg = True
                o.grad_fn = node
                o._out_nr = k
                move_retained_grad(o, old_fn, old_nr)    # (a dirty input's retain_grad follows it)
            result.append(o)
        return tuple(result) if isinstance(out, tuple) else result[0]


def _forward_tangents(cls, ctx, args, out):
    """The outputs of a Function called on dual tensors, carrying the tangents its jvp gives."""
    from plugtorch._tensor import Tensor
    forward_ad = _forward_ad
    tangents = [a._fw_grad if isinstance(a, Tensor) else None for a in args]
    ctx._in_jvp = True
    forward_ad._state.suspended += 1     # (jvp's own ops compute tangents, they carry none)
    try:
        res = cls.jvp(ctx, *tangents)
    finally:
        ctx._in_jvp = False
        forward_ad._state.suspended -= 1
    outs = out if isinstance(out, tuple) else (out,)
    res = res if isinstance(res, tuple) else (res,)
    if len(res) != len(outs):
        raise RuntimeError(f"function {cls.__name__}.jvp returned an incorrect number of tangents (expected "
                           f"{len(outs)}, got {len(res)})")
    marked = []
    for o, t in zip(outs, res):
        if isinstance(o, Tensor) and t is not None:
            if tuple(t.shape) != tuple(o.shape):
                raise RuntimeError(f"function {cls.__name__}.jvp returned a tangent of shape {list(t.shape)} for an "
                                   f"output of shape {list(o.shape)}")
            if any(o is a for a in args):    # (never give a caller's input a tangent it did not have)
                o = o.view_as(o)
            forward_ad._set_tangent(o, t)
        marked.append(o)
    return tuple(marked) if isinstance(out, tuple) else marked[0]


def _check_dirty(cls, t):
    if t.grad_fn is None and t._rg:
        raise RuntimeError(f"{cls.__name__}: a leaf Variable that requires grad has been used in an in-place "
                           "operation (mark_dirty). Pass a clone, or run it under plugtorch.no_grad().")
    if t._base is not None:
        raise RuntimeError(f"{cls.__name__}: mark_dirty on a view is not supported; pass a clone of the "
                           "view (or its base) instead")


class _DelayedError(Node):
    """The history of a once_differentiable backward's results: differentiating them raises."""

    def __init__(self, message, n_outputs):
        self.message = message
        self.n_outputs = n_outputs
        self.next_functions = ()
        self.seq = next_seq()

    def name(self):
        return "DelayedError"

    def apply(self, grads, create_graph):
        raise RuntimeError(self.message)


def once_differentiable(fn):
    """Decorate a Function's ``backward`` that cannot itself be differentiated: it runs under
    no_grad, and differentiating its results (``create_graph=True``, then backward) raises, as
    PyTorch's.

    >>> class Cube(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x); return x ** 3
    ...     @staticmethod
    ...     @once_differentiable
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors; return 3 * x * x * g
    """
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from plugtorch._tensor import Tensor
        from plugtorch.autograd.grad_mode import no_grad
        with no_grad():
            outputs = fn(ctx, *args)
        if not D.grad_state.enabled or not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        node = _DelayedError(f"trying to differentiate twice a function that was marked with "
                             f"@once_differentiable ({getattr(fn, '__qualname__', fn)})", len(outs))
        wrapped = []
        for k, v in enumerate(outs):
            if isinstance(v, Tensor):
                v = v.detach()
                v._rg = True
                v.grad_fn = node
                v._out_nr = k
            wrapped.append(v)
        return wrapped[0] if single else tuple(wrapped)
    return wrapper
