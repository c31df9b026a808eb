"""Graph nodes: one per recorded op call, plus AccumulateGrad for leaves.

A node keeps what its formula needs (saved tensors with their version at save time, the
inputs' shapes and dtypes) and ``next_functions`` pointing at the nodes that produced its
inputs. ``release()`` drops the saved tensors after backward unless the graph is retained.
"""
from __future__ import annotations

import itertools
import sys
import threading
import weakref
from typing import NamedTuple

# Every node takes the next number when it is created: 0, -1, -2 ... A node is always created
# after the nodes of its inputs, so running nodes in increasing ``seq`` (latest first) is a
# topological order of the backward graph: the engine needs no dependency-counting pass.
next_seq = itertools.count(0, -1).__next__   # (atomic under the GIL)

# Held while a gradient is added into a tensor's .grad: threads running backward into one
# shared leaf then accumulate atomically, as in PyTorch (each thread's graph runs on its own).
grad_lock = threading.Lock()

_FREED = ("Trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Saved intermediate values of the graph "
          "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
          "you need to backward through the graph a second time or if you need to access saved "
          "tensors after calling backward.")


class Node:
    """Base of all graph nodes. ``apply(grads) -> grads for next_functions``."""

    next_functions: tuple = ()
    n_outputs = 1
    released = False
    seq = 1                 # creation order (subclasses set it from next_seq())
    _pre_hooks = None       # {output_nr: [tensor hook], None: [node prehook]} ({} when only _retained is set)
    _post_hooks = None
    _retained = None        # {output_nr: retain_grad's hook}, run after the _pre_hooks

    def name(self) -> str:
        return type(self).__name__

    def release(self):
        """Drop what was saved for backward (called after backward unless retain_graph)."""

    def __lt__(self, other):
        # heap entries are (seq, node): only nodes of subclasses that never set seq tie
        return id(self) < id(other)

    @property
    def metadata(self) -> dict:
        """A dict for the user's own notes about this node (PyTorch's ``Node.metadata``)."""
        m = self.__dict__.get("_metadata")
        if m is None:
            m = self.__dict__["_metadata"] = {}
        return m

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` after the node ran (tuples, as torch's
        ``Node.register_hook``); a tuple it returns replaces ``grad_inputs``."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return _Handle(self._post_hooks, hook)

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` before the node runs (a tuple, as torch's
        ``Node.register_prehook``); a tuple it returns replaces ``grad_outputs``."""
        return self._register_output_hook(hook, None)

    def _register_output_hook(self, hook, output_nr):
        """A tensor hook ``hook(grad)`` on output ``output_nr`` (None: a node prehook, above)."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        lst = self._pre_hooks.setdefault(output_nr, [])
        lst.append(hook)
        return _Handle(lst, hook)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"


class _Handle:
    """What register_hook returns: ``remove()`` unregisters the hook."""

    def __init__(self, lst, item):
        self._lst, self._item = lst, item

    def remove(self):
        try:
            self._lst.remove(self._item)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):   # ``with t.register_hook(h):`` removes h at the end of the block
        self.remove()


def _leaf_hooks_changed():
    """A leaf's (a parameter's) gradient hooks changed: plugtorch.compile's graphs that ran
    backward hold the hooks' ops as traced, so they are keyed, as a module's hooks are, by the
    counter nn's modules bump (only where nn is loaded: before, no graph can exist)."""
    module = sys.modules.get("plugtorch.nn.modules.module")
    if module is not None:
        module._structure_changed()


class _LeafHandle(_Handle):
    """A leaf's hook handle: removing the hook changes what a compiled backward must do."""

    def remove(self):
        if self._item in self._lst:
            _leaf_hooks_changed()
        super().remove()


class TensorMeta:
    """What a formula may read of an input it did not save: shape, dtype, device (and, for a
    formula registered with ``shapes="geometry"``, its strides and storage offset)."""

    __slots__ = ("shape", "dtype", "device", "ndim", "geometry")

    def __init__(self, t):
        self.shape = t.shape
        self.dtype = t._dtype
        self.device = t._device
        self.ndim = len(self.shape)

    @classmethod
    def make(cls, shape, dtype, device):
        m = _new(cls)
        m.shape = shape
        m.dtype = dtype
        m.device = device
        m.ndim = len(shape)
        return m

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    def dim(self):
        return self.ndim

    def stride(self):
        return self.geometry[0]

    def storage_offset(self):
        return self.geometry[1]


_new = object.__new__


class SavedTensor:
    """A tensor saved for backward, with the version it had then. A custom Function's saved
    output unpacks as output ``out_nr`` of its node, so gradients through it reach that output."""

    __slots__ = ("data", "version", "is_output", "out_nr")

    def __init__(self, t, is_output=False, out_nr=0):
        if is_output:
            t = t.detach()
        self.data = t
        self.version = t._version
        self.is_output = is_output
        self.out_nr = out_nr

    def unpack(self, node):
        t = self.data
        if t._version != self.version:
            raise modified_error(t, self.version, node if self.is_output else None)
        if self.is_output:
            t = t.detach()
            t._rg = True
            t.grad_fn = node
            t._out_nr = self.out_nr
        return t


def modified_error(t, expected, producer=None):
    """The error for a saved tensor that an in-place op changed after it was saved."""
    fn = producer or t.grad_fn
    what = f"output {t._out_nr} of {fn.name()}" if fn is not None else "a leaf or a tensor without history"
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{t._dtype.name} {list(t.shape)}], which is {what}, is at version "
        f"{t._version}; expected version {expected} instead. Hint: clone the tensor before "
        "modifying it in place, or do the in-place op after backward.")


class OpNode(Node):
    """A recorded call of a registered op (built by ``engine.record``).

    ``args`` are the op's arguments with every tensor taken out; ``slots`` says, per entry of
    ``next_functions``, where its tensor was ((arg position, list position or -1), its shape,
    dtype and device); ``saved`` holds the tensors the formula reads with their versions.
    """

    # hooks, released, result and out_meta are rarely set: class defaults, kept off the slots
    __slots__ = ("seq", "op", "formula", "args", "kwargs", "slots", "saved", "next_functions",
                 "n_outputs")
    result = None
    out_meta = None

    def name(self) -> str:
        n = self.op.name.strip("_")
        return "".join(p.capitalize() for p in n.split("_")) + "Backward"

    def __getattr__(self, name):
        # PyTorch's grad_fn._saved_<argument> and grad_fn._saved_result
        if name.startswith("_saved_"):
            return _saved_value(self, name[len("_saved_"):])
        if name.startswith("_raw_saved_"):
            return _RawSaved(self, name[len("_raw_saved_"):])
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def release(self):
        # Like PyTorch, only a node that saved tensors refuses a second backward; one that
        # kept just shapes (add, sum ...) can run again.
        if self.saved or self.result is not None:
            self.args = self.kwargs = self.saved = self.result = None
            self.released = True


def _saved_value(node, key):
    """What ``node``'s formula reads for argument ``key`` ("self" is the first, as in PyTorch's
    derivative names) or for "result": a saved tensor as backward would unpack it, a non-tensor
    argument as given. An argument kept only as a shape raises AttributeError."""
    from plugtorch._tensor import Tensor
    if node.released:
        raise RuntimeError(_FREED)
    from plugtorch.autograd import saved_hooks
    if key == "result":
        r = node.result
        if r is None:
            raise AttributeError(f"{node.name()} saved no result (its backward does not read its output)")
        from plugtorch.autograd.engine import _unpack_output
        rs = r if node.n_outputs > 1 else [r]
        outs = []
        for k, x in enumerate(rs):
            if not isinstance(x, tuple):        # through a pack hook
                x = x.get().detach()
                x = (x, x._version)
            outs.append(_unpack_output(x, node, k))
        return tuple(outs) if node.n_outputs > 1 else outs[0]
    params = list(node.op.signature.parameters.values())
    names = [p.name for p in params]
    idx = 0 if key == "self" else names.index(key) if key in names else None
    if idx is None:
        raise AttributeError(f"'{type(node).__name__}' object has no attribute '_saved_{key}' ({node.name()} "
                             f"saves {', '.join('_saved_' + ('self' if i == 0 else n) for i, n in enumerate(names))}"
                             f"{' and _saved_result' if node.result is not None else ''})")
    if idx < len(node.args):
        v = saved_hooks._unpack(node.args[idx])
    elif key in (node.kwargs or {}):
        v = node.kwargs[key]
    else:
        return params[idx].default
    tensor_arg = any(slot[0] == idx for slot in node.slots)
    if tensor_arg and not (isinstance(v, Tensor) or (isinstance(v, list) and all(isinstance(b, Tensor) for b in v))):
        saves = node.formula.saves
        if saves is not None and idx not in saves:
            raise AttributeError(f"'{type(node).__name__}' object has no attribute '_saved_{key}' ({node.name()} "
                                 "reads only its shape and dtype)")
        return None     # saved only when a gradient that reads it is needed (mul, div), as in PyTorch
    if isinstance(v, Tensor) and node.saved:
        for t, version in node.saved:
            if t is v and t._version != version:
                raise modified_error(t, version)
    return v


class _RawSaved:
    """``grad_fn._raw_saved_<name>``: one saved tensor of a node, whose ``register_hooks(pack,
    unpack)`` packs it now and unpacks it at backward, as PyTorch's ``SavedTensor``."""

    def __init__(self, node, key):
        _saved_value(node, key)     # (the same errors for a name the node does not save)
        self.node, self.key = node, key

    def register_hooks(self, pack_hook, unpack_hook):
        from plugtorch._tensor import Tensor
        from plugtorch.autograd import saved_hooks
        if not (callable(pack_hook) and callable(unpack_hook)):
            raise TypeError("register_hooks expects two callables (pack_hook, unpack_hook), got "
                            f"{type(pack_hook).__name__} and {type(unpack_hook).__name__}")
        node = self.node
        if node.released:
            raise RuntimeError(_FREED)
        if self.key == "result":
            if node.n_outputs != 1 or not isinstance(node.result, tuple):
                raise RuntimeError("SavedTensor hooks have already been set on this SavedTensor")
            node.result = saved_hooks._Packed(node.result[0], (pack_hook, unpack_hook))
        else:
            names = list(node.op.signature.parameters)
            idx = 0 if self.key == "self" else names.index(self.key)
            v = node.args[idx]
            if v.__class__ is saved_hooks._Packed:
                raise RuntimeError("SavedTensor hooks have already been set on this SavedTensor")
            if not isinstance(v, Tensor):
                raise RuntimeError(f"{node.name()}: '{self.key}' is not a saved tensor; only saved tensors take hooks")
            node.args = list(node.args)
            node.args[idx] = saved_hooks._Packed(v, (pack_hook, unpack_hook))
        if node.__class__ is OpNode:
            node.__class__ = saved_hooks.PackedOpNode   # unpacks its packed values at each backward


class AccumulateGrad(Node):
    """Sink for a leaf tensor's gradient.

    The leaf holds its accumulator (so building a graph does not allocate one per step) and
    the accumulator holds the leaf weakly, so there is no reference cycle between them.
    """

    __slots__ = ("_var", "seq", "_pre_hooks", "_post_hooks")
    next_functions = ()

    def __init__(self, variable):
        self._var = weakref.ref(variable)
        self.seq = next_seq()
        self._pre_hooks = None
        self._post_hooks = None

    @property
    def variable(self):
        return self._var()

    def name(self) -> str:
        return "AccumulateGrad"


def grad_accumulator(t) -> AccumulateGrad:
    acc = t._acc
    if acc is None:
        acc = t._acc = AccumulateGrad(t)
        if t._hooks is not None:
            acc._pre_hooks = {0: t._hooks}   # the leaf's hook list itself, so remove() works
    return acc


NO_EDGE = (None, 0)   # one object: the engine tests it with ``is``


def edge(t):
    """(node, output_nr) that receives the gradient of ``t``, or NO_EDGE, ``(None, 0)``, if it needs
    none (PyTorch's ``next_functions`` entry for an input that needs no gradient)."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._out_nr)
    if t._rg:
        return (grad_accumulator(t), 0)
    return NO_EDGE


def register_tensor_hook(t, hook):
    if not t._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        return t.grad_fn._register_output_hook(hook, t._out_nr)
    if t._hooks is None:
        t._hooks = []
    t._hooks.append(hook)
    acc = t._acc
    if acc is not None:
        pre = acc._pre_hooks
        if pre is None:
            pre = acc._pre_hooks = {}
        lst = pre.get(0)
        if lst is not t._hooks:
            if lst:
                t._hooks[:0] = lst
            pre[0] = t._hooks
    _leaf_hooks_changed()
    return _LeafHandle(t._hooks, hook)


def register_post_accumulate_grad_hook(t, hook):
    """Call ``hook(t)`` each time backward has accumulated a gradient into leaf ``t``'s .grad
    (DDP starts a bucket's all-reduce from it)."""
    if not t._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if t._post_acc_hooks is None:
        t._post_acc_hooks = []
    t._post_acc_hooks.append(hook)
    _leaf_hooks_changed()
    return _LeafHandle(t._post_acc_hooks, hook)


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
            # (grad mode is on only under create_graph: then .grad stays differentiable, as PyTorch's)
            with grad_lock:
                x._grad = g.clone() if x._grad is None else x._grad + g
    # kept apart from the tensor's hooks: the engine runs it after all of them, whatever the
    # order of registration, so .grad holds the gradient the hooks made (as in PyTorch)
    _retain_at(t.grad_fn, t._out_nr, hook)


def _retain_at(node, output_nr, hook):
    if node._retained is None:
        node._retained = {}
    node._retained[output_nr] = hook
    if node._pre_hooks is None:
        node._pre_hooks = {}


def move_retained_grad(t, old_fn, old_nr) -> None:
    """After an in-place op gave ``t`` a new ``grad_fn``, its retain_grad hook follows it (as
    PyTorch's does), so ``t.grad`` is the gradient of t's new value; its other hooks stay behind."""
    if not t._retains_grad or old_fn is None or old_fn is t.grad_fn or not old_fn._retained:
        return
    hook = old_fn._retained.pop(old_nr, None)
    if hook is not None:
        _retain_at(t.grad_fn, t._out_nr, hook)


def register_multi_grad_hook(tensors, fn, *, mode: str = "all"):
    """One hook over several tensors' gradients in a backward pass (PyTorch's).

    ``mode="all"``: ``fn(grads)`` once the pass is done, with a gradient (or None, for a tensor
    the pass did not reach) per tensor. ``mode="any"``: ``fn(grad)`` with the first of those
    gradients computed in the pass. Returns a handle whose ``remove()`` unregisters it.

    >>> import plugtorch as pt
    >>> a, b = pt.ones(2, requires_grad=True), pt.ones(2, requires_grad=True)
    >>> h = register_multi_grad_hook((a, b), lambda gs: print([g is None for g in gs]))
    >>> (a * 2).sum().backward()
    [False, True]
    """
    from plugtorch.autograd.engine import _running, queue_callback
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    pending = {}      # id(the running pass's callback list) -> (that list, the gradients so far)

    def current():
        tasks = getattr(_running, "tasks", None)
        if not tasks:
            raise RuntimeError("register_multi_grad_hook: expected its hook to run inside a backward call")
        return tasks[-1]

    if mode == "all":
        def hook_for(k):
            def hook(grad):
                task = current()
                entry = pending.get(id(task))
                if entry is None:
                    entry = pending[id(task)] = (task, [None] * len(tensors))

                    def done(key=id(task)):
                        fn(pending.pop(key)[1])
                    queue_callback(done)
                entry[1][k] = grad
            return hook
        handles = [t.register_hook(hook_for(k)) for k, t in enumerate(tensors)]
    else:
        def first(grad):
            task = current()
            if id(task) in pending:
                return
            pending[id(task)] = (task, None)
            queue_callback(lambda key=id(task): pending.pop(key, None))
            fn(grad)
        handles = [t.register_hook(first) for t in tensors if t.requires_grad]
    return _Handles(handles)


class _Handles:
    """The handle of a hook registered as several: ``remove()`` removes them all."""

    def __init__(self, handles):
        self._handles = handles

    def remove(self):
        for h in self._handles:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class GradientEdge(NamedTuple):
    """Where a tensor's gradient enters the graph: ``(node, output_nr)``."""
    node: Node
    output_nr: int
    ownership_token: object = None


def get_gradient_edge(tensor) -> GradientEdge:
    """The node (and which of its outputs) that receives ``tensor``'s gradient: its ``grad_fn``,
    or a leaf's AccumulateGrad.

    >>> import plugtorch as pt
    >>> x = pt.ones(2, requires_grad=True)
    >>> get_gradient_edge(x * 2).node.name(), get_gradient_edge(x).node.name()
    ('MulBackward', 'AccumulateGrad')
    """
    e = edge(tensor)
    if e is NO_EDGE:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    return GradientEdge(e[0], e[1])


def increment_version(tensor) -> None:
    """Bump the version counter of a tensor (or of each in a list) that was changed in place
    behind autograd's back, so a backward that saved it refuses to use it."""
    for t in ((tensor,) if hasattr(tensor, "_bump_version") else tensor):
        t._bump_version()


# torch.autograd.graph's hooks on saved tensors (they need the classes above)
from plugtorch.autograd.saved_hooks import (disable_saved_tensors_hooks, save_on_cpu,  # noqa: E402,F401
                                            saved_tensors_hooks)
