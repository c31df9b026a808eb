"""Graph nodes: one per recorded op call, plus AccumulateGrad for leaves.

A node keeps what its formula needs (saved tensors with their version at save time, the
inputs' shapes and dtypes) and ``next_functions`` pointing at the nodes that produced its
inputs. ``release()`` drops the saved tensors after backward unless the graph is retained.
"""
from __future__ import annotations

import weakref

_FREED = ("Trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Saved intermediate values of the graph "
          "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
          "you need to backward through the graph a second time or if you need to access saved "
          "tensors after calling backward.")


class Node:
    """Base of all graph nodes. ``apply(grads) -> grads for next_functions``."""

    next_functions: tuple = ()
    _pre_hooks = None       # {output_nr: [hook]}
    _post_hooks = None
    _retained = None

    def name(self) -> str:
        return type(self).__name__

    def register_hook(self, hook):
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return _Handle(self._post_hooks, hook)

    def register_prehook(self, hook, output_nr=0):
        if self._pre_hooks is None:
            self._pre_hooks = {}
        lst = self._pre_hooks.setdefault(output_nr, [])
        lst.append(hook)
        return _Handle(lst, hook)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"


class _Handle:
    def __init__(self, lst, item):
        self._lst, self._item = lst, item

    def remove(self):
        try:
            self._lst.remove(self._item)
        except ValueError:
            pass


class TensorMeta:
    """What a formula may read of an input it did not save: shape, dtype, device."""

    __slots__ = ("shape", "dtype", "device", "ndim")

    def __init__(self, t):
        self.shape = t.shape
        self.dtype = t._dtype
        self.device = t._device
        self.ndim = len(self.shape)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    def dim(self):
        return self.ndim


class SavedTensor:
    """A tensor saved for backward, with the version it had then."""

    __slots__ = ("data", "version", "is_output")

    def __init__(self, t, is_output=False):
        if is_output:
            t = t.detach()
        self.data = t
        self.version = t._version
        self.is_output = is_output

    def unpack(self, node):
        t = self.data
        if t._version != self.version:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t._dtype.name} {list(t.shape)}], which is output 0 of "
                f"{node.name()}, is at version {t._version}; expected version {self.version} "
                "instead. Hint: clone the tensor before modifying it in place.")
        if self.is_output:
            t = t.detach()
            t._rg = True
            t.grad_fn = node
        return t


class OpNode(Node):
    """A recorded call of a registered op."""

    __slots__ = ("op", "formula", "args", "kwargs", "saved", "in_meta", "next_functions",
                 "result", "released", "n_outputs", "out_meta", "_pre_hooks", "_post_hooks",
                 )

    def __init__(self):
        self._pre_hooks = None
        self._post_hooks = None

    def name(self) -> str:
        n = self.op.name.strip("_")
        return "".join(p.capitalize() for p in n.split("_")) + "Backward"

    def release(self):
        self.args = self.kwargs = self.saved = self.result = None
        self.released = True


class AccumulateGrad(Node):
    """Sink for a leaf tensor's gradient."""

    __slots__ = ("variable", "_pre_hooks", "_post_hooks")
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable
        self._pre_hooks = None
        self._post_hooks = None

    def name(self) -> str:
        return "AccumulateGrad"


def grad_accumulator(t) -> AccumulateGrad:
    ref = t._acc
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._acc = weakref.ref(acc)
        if t._hooks:
            for h in t._hooks:
                acc.register_prehook(h)
    return acc


def edge(t):
    """(node, output_nr) that receives the gradient of ``t``, or None if it needs none."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._out_nr)
    if t._rg:
        return (grad_accumulator(t), 0)
    return None


def register_tensor_hook(t, hook):
    if not t._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        return t.grad_fn.register_prehook(hook, t._out_nr)
    if t._hooks is None:
        t._hooks = []
    t._hooks.append(hook)
    ref = t._acc
    acc = ref() if ref is not None else None
    if acc is not None:
        acc.register_prehook(hook)
    return _Handle(t._hooks, hook)


def retain_grad(t):
    if not t._rg:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if t.grad_fn is None or t._retains_grad:
        return
    t._retains_grad = True
    ref = weakref.ref(t)

    def hook(g):
        x = ref()
        if x is not None:
            x._grad = g.detach() if x._grad is None else x._grad + g.detach()
        return None
    t.grad_fn.register_prehook(hook, t._out_nr)
