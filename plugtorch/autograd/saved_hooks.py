"""Hooks on the tensors autograd saves for backward: ``saved_tensors_hooks``, ``save_on_cpu``
and ``disable_saved_tensors_hooks``, as in ``torch.autograd.graph``.

While a pair of hooks is active, each tensor an op saves for its backward formula goes through
``pack_hook`` when the op runs, and the node keeps only what it returns; backward gives that
back to ``unpack_hook``, which must return a tensor with the same values.

>>> import plugtorch as pt
>>> x = pt.ones(2, requires_grad=True)
>>> with saved_tensors_hooks(lambda t: t.tolist(), lambda p: pt.tensor(p)):
...     y = (x * x).sum()
>>> y.backward(); x.grad.tolist()
[2.0, 2.0]
"""
from __future__ import annotations

import threading

from plugtorch.autograd.graph import OpNode

active = 0     # hook pairs entered in any thread: engine.record's one cheap check


class _Local(threading.local):
    def __init__(self):
        self.stack = []          # (pack_hook, unpack_hook), innermost last
        self.disabled = None     # disable_saved_tensors_hooks's message


_local = _Local()


def _update_engine():
    from plugtorch.autograd import engine
    engine.update_extras()


def current_hooks():
    """The calling thread's innermost (pack, unpack) pair, or None."""
    stack = _local.stack
    return stack[-1] if stack else None


class saved_tensors_hooks:
    """Context manager: pass every tensor saved for backward through ``pack_hook`` and give
    ``unpack_hook`` its result when backward needs the tensor.

    >>> import plugtorch as pt
    >>> seen = []
    >>> x = pt.ones(2, requires_grad=True)
    >>> with saved_tensors_hooks(lambda t: seen.append(t) or t, lambda t: t):
    ...     y = x.exp()
    >>> len(seen)
    1
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        global active
        if _local.disabled is not None:
            raise RuntimeError(_local.disabled)
        _local.stack.append((self.pack_hook, self.unpack_hook))
        active += 1
        _update_engine()
        return self

    def __exit__(self, *args):
        global active
        _local.stack.pop()
        active -= 1
        _update_engine()


class save_on_cpu(saved_tensors_hooks):
    """Keep the tensors saved for backward on the host and move them back to their device in
    backward (``pin_memory`` is accepted: plugtorch's host copies are plain NumPy arrays)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        def pack(t):
            return (t.device, t.to("cpu", copy=True))

        def unpack(packed):
            device, t = packed
            return t.to(device)
        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Context manager in which entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``
    (as does entering it while hooks are active)."""

    def __init__(self, error_message: str):
        self.error_message = error_message

    def __enter__(self):
        if _local.stack:
            raise RuntimeError(self.error_message)
        self.prev = _local.disabled
        _local.disabled = self.error_message
        return self

    def __exit__(self, *args):
        _local.disabled = self.prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with disable_saved_tensors_hooks(self.error_message):
                return fn(*a, **k)
        return wrapper


# ---- packing a recorded node --------------------------------------------------------------
class _Packed:
    """What a node keeps of one saved tensor: the pack hook's result and where the tensor's
    gradient goes. As in PyTorch, no version check: the unpack hook's tensor is used as is."""

    __slots__ = ("value", "unpack", "grad_fn", "out_nr", "acc", "rg")

    def __init__(self, t, hooks):
        pack, self.unpack = hooks
        self.grad_fn, self.out_nr, self.acc, self.rg = t.grad_fn, t._out_nr, t._acc, t._rg
        if self.rg and self.grad_fn is None:   # a leaf: its accumulator, so an unpacked copy reaches it
            from plugtorch.autograd.graph import grad_accumulator
            self.acc = grad_accumulator(t)
        from plugtorch.autograd.grad_mode import no_grad
        with no_grad():   # as torch: the hook's own ops record nothing (and are not packed in turn)
            self.value = pack(t)

    def get(self):
        t = self.unpack(self.value)
        from plugtorch._tensor import Tensor
        if not isinstance(t, Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got result "
                            f"of type {type(t).__name__}")
        if self.rg and (t.grad_fn is not self.grad_fn or (self.grad_fn is None and t._acc is not self.acc)):
            # give the unpacked tensor the original's place in the graph (double backward)
            t = t.detach()
            t._rg = True
            t.grad_fn, t._out_nr = self.grad_fn, self.out_nr
            if self.grad_fn is None:
                t._acc = self.acc
        return t


def pack_node(node) -> None:
    """Called by engine.record for a node just recorded while hooks are active in some thread."""
    hooks = current_hooks()
    if hooks is None or node.__class__ is not OpNode:
        return
    saved = node.saved
    ids = {id(t) for t, _ in saved} if saved else ()

    def pack(a):
        if id(a) in ids:
            return _Packed(a, hooks)
        if a.__class__ is list:
            return [pack(b) for b in a]
        return a
    if saved:
        node.args = [pack(a) for a in node.args]
    r = node.result
    if r is not None:
        node.result = [_Packed(t, hooks) for t, _ in r] if node.n_outputs > 1 else _Packed(r[0], hooks)
    if saved or r is not None:
        node.__class__ = PackedOpNode


def _unpack(a):
    if a.__class__ is _Packed:
        return a.get()
    if a.__class__ is list:
        return [_unpack(b) for b in a]
    return a


class PackedOpNode(OpNode):
    """An OpNode whose saved tensors went through a pack hook: unpacked for each backward."""

    __slots__ = ()

    def apply(self, grads, create_graph):
        from plugtorch.autograd.engine import apply_node
        if self.released:
            from plugtorch.autograd.graph import _FREED
            raise RuntimeError(_FREED)
        args, saved, result = self.args, self.saved, self.result
        try:
            self.args = [_unpack(a) for a in args]
            self.saved = None
            if result is not None:
                outs = [p.get() for p in result] if self.n_outputs > 1 else [result.get()]
                for k, o in enumerate(outs):   # saved outputs are the node's own outputs
                    o = o.detach()
                    outs[k] = (o, o._version)
                self.result = outs if self.n_outputs > 1 else outs[0]
            return apply_node(self, grads)
        finally:
            if not self.released:
                self.args, self.saved, self.result = args, saved, result


class _PackedSavedTensor:
    """A custom Function's saved tensor (graph.SavedTensor) after the pack hook."""

    __slots__ = ("packed", "is_output", "out_nr")

    def __init__(self, s, hooks):
        self.packed = _Packed(s.data, hooks)
        self.is_output = s.is_output
        self.out_nr = s.out_nr

    def unpack(self, node):
        t = self.packed.get()
        if self.is_output:
            t = t.detach()
            t._rg = True
            t.grad_fn = node
            t._out_nr = self.out_nr
        return t


def pack_saved(saved: list) -> list:
    """ctx.save_for_backward's SavedTensors through the calling thread's pack hook, if any."""
    hooks = current_hooks()
    if hooks is None:
        return saved
    return [None if s is None else _PackedSavedTensor(s, hooks) for s in saved]
