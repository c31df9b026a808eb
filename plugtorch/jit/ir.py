"""The graph IR: values that carry their meta, and nodes that are registry ops.

A traced ``Graph`` has two levels, both recorded in one run:

* **op level** (``Graph.ops``): the calls the program made through the dispatcher, as the user
  (and autograd's formulas, and the optimizers) made them: ``linear(x, w, b)``. This level is
  device-independent; it is what ``jit.save`` writes and what a load replays on any backend.
* **kernel level** (``Graph.nodes``): the kernel calls those ops turned into on one device, after
  meta functions and decompositions: ``matmul``, ``add``. Passes and the executor work here.

Values are SSA: each is produced once (by a node, or as an input, a captured tensor, a constant)
and carries its shape, dtype and device. A kernel that writes into an array (``copy_``, the
optimizers' fused updates) is a node with ``writes``; the functionalization pass turns writes
into new values where it can.
"""
from __future__ import annotations

from plugtorch.autograd.graph import _FREED, next_seq as _next_seq
from plugtorch.autograd.graph import Node as _AutogradNode

INPUT, CAPTURE, GRAD, NODE, CONST = "input", "capture", "grad", "node", "const"


class Value:
    """One SSA value. ``kind``: an explicit input, a captured tensor (parameters, buffers, state:
    read live at each call), the ``.grad`` of a captured tensor, a node's result, or a constant."""

    __slots__ = ("index", "kind", "shape", "dtype", "device", "producer", "tensor", "grad_of",
                 "array", "root", "pos", "grad0_none", "requires_grad", "strides", "native_strides", "same_as")

    def __init__(self, index, kind, shape, dtype, device):
        self.index = index
        self.kind = kind
        self.shape = tuple(shape)
        self.dtype = dtype
        self.device = device
        self.producer = None     # the Node computing it
        self.tensor = None       # CAPTURE: the live Tensor
        self.grad_of = None      # GRAD: the Value whose tensor's .grad this is
        self.array = None        # CONST: the native array
        self.root = self         # the value whose memory this one views (itself if not a view)
        self.pos = None          # INPUT: position among the flattened inputs
        self.grad0_none = True   # INPUT/CAPTURE: whether its .grad was None when traced
        self.requires_grad = False
        self.strides = None      # INPUT: strides (elements) when traced, part of the guard
        self.native_strides = None   # INPUT: the native array's .strides, when it has them
        self.same_as = None      # INPUT: the position of an earlier input that was this tensor when traced

    @property
    def name(self) -> str:
        return f"%{self.index}"

    def type_str(self) -> str:
        dt = str(self.dtype).replace("plugtorch.", "")
        return f"{dt}[{', '.join(map(str, self.shape))}, device={self.device}]"

    def __repr__(self):
        return f"{self.name} : {self.type_str()}"


class Node:
    """One kernel call: ``kernel(*kargs)`` with Values in ``kargs`` where arrays go.

    ``run_args``/``run_kwargs``: the same call at the op's level (Tensors as Values), for nodes
    the executor cannot pre-resolve (a meta function that built an array itself)."""

    __slots__ = ("op", "device", "kernel", "kargs", "outs", "writes", "run_args", "run_kwargs",
                 "parent", "fused", "out_dtypes", "paired")

    def __init__(self, op, device, kernel, kargs, outs, writes, run_args, run_kwargs, parent):
        self.op = op
        self.device = device
        self.kernel = kernel
        self.kargs = kargs            # None: not pre-resolvable, use run_args
        self.outs = outs              # list of Value or None (one per kernel result)
        self.writes = writes          # Values whose memory the kernel writes
        self.run_args = run_args
        self.run_kwargs = run_kwargs
        self.parent = parent          # the OpCall it belongs to
        self.fused = None             # a fusion.PointwiseGroup when this node stands for several
        self.out_dtypes = None
        self.paired = None            # the second op when this node runs two calls (passes.pair_kernels)

    @property
    def name(self) -> str:
        if self.paired is not None:
            return f"{self.op.name}+{self.paired.name}"
        return self.op.name if self.fused is None else "fused_pointwise"

    @property
    def effectful(self) -> bool:
        tags = self.op.tags
        return bool(self.writes) or "random" in tags or "check" in tags

    def inputs(self):
        """The Values this node reads (a fused node's kargs are its input Values)."""
        out = []
        _collect(self.kargs if self.kargs is not None else (self.run_args, self.run_kwargs), out)
        return out


class OpCall:
    """One call through the dispatcher at the top level of the traced program."""

    __slots__ = ("op", "args", "kwargs", "outs", "site", "nodes", "grad")

    def __init__(self, op, args, kwargs, site, grad=True):
        self.op = op
        self.args = args
        self.kwargs = kwargs
        self.outs = None
        self.site = site
        self.nodes = []
        # the grad mode the program made the call in: a replay through autograd makes it in the
        # same mode (an update of a parameter under no_grad must not be recorded, nor refused as
        # an in-place write on a leaf that requires grad)
        self.grad = grad


class Read:
    """An output leaf: the Python number that ``value.item()`` gives at each replay. The traced call
    returned the number of a read after its last op, which nothing else in the call used
    (``Tracer.finish``), so the replay reads the tensor again instead of guarding its data."""

    __slots__ = ("value", "why")

    def __init__(self, value, why="item"):
        self.value = value
        self.why = why

    def __repr__(self):
        return f"{self.why}({self.value!r})"


class Struct:
    """An output of a type Python rebuilds from its items: a namedtuple (``items`` a tuple) or an
    OrderedDict (``items`` a dict); ``build()`` gives the object of ``type`` again."""

    __slots__ = ("type", "items")

    def __init__(self, type_, items):
        self.type = type_
        self.items = items

    def build(self, items):
        return self.type._make(items) if isinstance(items, tuple) else self.type(items)


def struct_of(r):
    """The Struct kind of output ``r`` holds (a namedtuple, an OrderedDict), or None."""
    import collections
    if isinstance(r, tuple) and r.__class__ is not tuple and hasattr(r, "_fields") and hasattr(r, "_make"):
        return tuple
    if r.__class__ is collections.OrderedDict:
        return dict
    return None


def _collect(t, out, reads=False):
    """The Values of a template in order (``reads``: a Read as itself, not its Value)."""
    if t.__class__ is Value:
        out.append(t)
    elif t.__class__ is Read:
        if reads:
            out.append(t)
        else:
            _collect(t.value, out)
    elif t.__class__ is Struct:
        _collect(t.items, out, reads)
    elif t.__class__ in (list, tuple):
        for x in t:
            _collect(x, out, reads)
    elif t.__class__ is dict:
        for x in t.values():
            _collect(x, out, reads)


def values_in(template) -> list:
    out = []
    _collect(template, out)
    return out


def substitute(t, fn):
    """``t`` with every Value replaced by ``fn(value)`` (lists, tuples and dicts rebuilt)."""
    c = t.__class__
    if c is Value:
        return fn(t)
    if c is Read:
        return Read(fn(t.value), t.why)
    if c is Struct:
        return Struct(t.type, substitute(t.items, fn))
    if c is list:
        return [substitute(x, fn) for x in t]
    if c is tuple:
        return tuple(substitute(x, fn) for x in t)
    if c is dict:
        return {k: substitute(x, fn) for k, x in t.items()}
    return t


class CompiledFunctionBackward(_AutogradNode):
    """The ``grad_fn`` of an output of a replayed call whose own ``backward()`` consumed its
    history (a training step's returned loss): the output requires grad and has a grad_fn, as the
    eager call's does, and a backward through it raises PyTorch's error about freed buffers, as
    a second backward does in eager (the replay kept no history to run). Named as the node
    ``torch.compile`` gives such an output."""
    released = True

    def __init__(self):
        self.seq = _next_seq()

    def apply(self, grads, create_graph):
        raise RuntimeError(_FREED)


class UnrecordedBackward(CompiledFunctionBackward):
    """The ``grad_fn`` of an output of such a replay whose eager history the call's backward
    left usable (a forward after ``opt.step()``): eager could run a backward through it, the
    replay recorded nothing to run, so a backward raises saying so (never a silent gradient
    left out), where the output still requires grad and has a grad_fn, as eager's does."""

    def name(self) -> str:
        return "CompiledFunctionBackward"

    def apply(self, grads, create_graph):
        raise RuntimeError("a backward reached a tensor returned by a replay of a compiled or traced call that ran "
                           "backward() itself: such a replay records no autograd history, and this tensor's (which "
                           "that backward did not use) is not there to run. Compute the tensor outside the compiled "
                           "function, or run its backward inside it")


class RetainedBackward(UnrecordedBackward):
    """The ``grad_fn`` of such an output whose history the call's ``backward(retain_graph=True)``
    kept (a returned loss): eager runs a second backward through it; a ``jit.trace`` replay has
    none to run (``plugtorch.compile`` runs such a call eagerly: a graph break)."""

    def apply(self, grads, create_graph):
        raise RuntimeError("a backward reached a tensor returned by a replay of a traced call that ran "
                           "backward(retain_graph=True) itself: eager keeps that history for a second backward, "
                           "but the replay records no autograd history, so there is none to run. Run the second "
                           "backward inside the traced function, use plugtorch.compile (which runs such a call "
                           "eagerly), or return the tensor detached")


class Graph:
    """A traced program: inputs, captured tensors, op-level calls, kernel-level nodes, outputs."""

    def __init__(self):
        self.values: list = []
        self.inputs: list = []        # Values, in the flattened order of the call's tensors
        self.captures: list = []      # CAPTURE and GRAD Values
        self.ops: list = []           # OpCalls
        self.nodes: list = []         # Nodes (kernel level), in execution order
        self.outputs = None           # template of the return value, Values in it
        self.grad_bindings: list = [] # (Value or Tensor, Value of its new .grad or None)
        self.grad_guards: list = []   # (Value or Tensor, whether its .grad must be None at the call)
        self.backward_ran = False
        self.enables_grad = False     # ops made under enable_grad() in a call entered without grad
        # output Value index -> the grad_fn class a dispatch-free replay of a graph that ran
        # backward gives it: CompiledFunctionBackward where the call's own backward freed the
        # traced tensor's history (a training step's loss), UnrecordedBackward where it did not
        self.output_history: dict = {}
        self.breaks: list = []        # (what, site): data-dependent Python reads while tracing
        self.program_reads: list = [] # the breaks the program's own Python made, outside any op's code
        self.read_stacks: list = []   # the Python stack at each program read (compiler.resume)
        self.outside_history = ""     # autograd nodes made before the trace that its backward ran
        # reads a replay repeats and compares with the traced data (item, bool, tolist): (what, site,
        # index in ops of the first op after the read (None: a read inside an op's code), Value, data)
        self.guards: list = []
        # reads whose numbers the call only returned, after its last op (Read leaves of outputs):
        # (what, site); a replay reads them again, with no guard
        self.late_reads: list = []
        self.escapes: list = []       # sites of values kept by Python code outside the graph
        self.made_in_call = ""        # captured tensors the call made from host data and wrote into
        self.made_in_call_returned = ""   # captured tensors the call made from host data and returns
        self.host_made = False        # a captured tensor the call made from host data (tensor(), from_numpy())
        self.host_copies: list = []   # (NumPy array, (shape, bytes)) plugtorch.tensor() copied into captures
        self.input_spec = None        # structure of the call's arguments
        # argument checks on data the program's own Python made between op-level calls
        # (dispatcher.data_check outside any op): (index in ops of the next call, Value of the
        # flag, exception type, message); the op-level replay runs them (executor.run_with_autograd)
        self.checks: list = []

    def new_value(self, kind, shape, dtype, device) -> Value:
        v = Value(len(self.values), kind, shape, dtype, device)
        self.values.append(v)
        return v

    def output_values(self) -> list:
        out = values_in(self.outputs)
        out += [g for _, g in self.grad_bindings if g is not None]
        return out

    # --- printing --------------------------------------------------------------------------
    def __str__(self):
        return self.format()

    def format(self, level="kernel") -> str:
        """SSA text: one line per node with each value's shape, dtype and device."""
        lines = ["graph(" + ", ".join(f"{v!r}" for v in self.inputs) + "):"]
        for c in self.captures:
            what = f"{c.grad_of.name}.grad" if c.kind == GRAD else "captured"
            lines.append(f"  {c!r} = {what}")
        if level == "op":
            for call in self.ops:
                outs = values_in(call.outs)
                lhs = ", ".join(repr(v) for v in outs) or "_"
                lines.append(f"  {lhs} = {call.op.name}({_fmt_args(call.args, call.kwargs)})"
                             + (f"  # {call.site}" if call.site else ""))
        else:
            for n in self.nodes:
                outs = [o for o in n.outs if o is not None]
                lhs = ", ".join(repr(v) for v in outs) or "_"
                if n.fused is not None:
                    body = _fmt_fused(n)
                else:
                    body = f"{n.name}({_fmt_args(n.kargs if n.kargs is not None else n.run_args, None if n.kargs is not None else n.run_kwargs)})"
                w = f"  # writes {', '.join(v.name for v in n.writes)}" if n.writes else ""
                lines.append(f"  {lhs} = {body}{w}")
        for t, g in self.grad_bindings:
            lines.append(f"  {_tname(t)}.grad = {g.name if g is not None else 'None'}")
        outs = _out_leaves(self.outputs)
        lines.append("  return (" + ", ".join(f"{v.value.name}.{v.why}()" if v.__class__ is Read else v.name
                                              for v in outs) + ")")
        return "\n".join(lines)

    def code(self) -> str:
        """The graph as Python-like text (what the executor runs)."""
        args = ", ".join(f"i{v.pos}" for v in self.inputs)
        lines = [f"def forward({args}):"]
        for v in self.inputs:
            lines.append(f"    {_py(v)} = i{v.pos}")
        for c in self.captures:
            lines.append(f"    {_py(c)} = " + (f"{_py(c.grad_of)}.grad" if c.kind == GRAD else f"self.c{c.index}"))
        for n in self.nodes:
            outs = [o for o in n.outs if o is not None]
            lhs = ", ".join(_py(v) for v in outs)
            if n.fused is not None:
                call = _fmt_fused(n, py=True)
            else:
                src = n.kargs if n.kargs is not None else n.run_args
                call = f"plugtorch.ops.{n.op.name}({_fmt_args(src, None if n.kargs is not None else n.run_kwargs, py=True)})"
            lines.append(f"    {lhs + ' = ' if lhs else ''}{call}")
        for t, g in self.grad_bindings:
            lines.append(f"    {_py(t) if isinstance(t, Value) else _tname(t)}.grad = {_py(g) if g is not None else 'None'}")
        outs = _out_leaves(self.outputs)
        lines.append("    return (" + ", ".join(f"{_py(v.value)}.{v.why}()" if v.__class__ is Read else _py(v)
                                                for v in outs) + ("," if len(outs) == 1 else "") + ")")
        return "\n".join(lines)


def _out_leaves(t) -> list:
    """The Values and Reads of an output template, in order."""
    out = []
    _collect(t, out, reads=True)
    return out


def _tname(t) -> str:
    return t.name if isinstance(t, Value) else f"<tensor {list(t.shape)}>"


def _py(v) -> str:
    return f"v{v.index}"


def _fmt_one(a, py):
    if a.__class__ is Value:
        return _py(a) if py else a.name
    if a.__class__ in (list, tuple):
        inner = ", ".join(_fmt_one(x, py) for x in a)
        return f"[{inner}]" if a.__class__ is list else f"({inner}{',' if len(a) == 1 else ''})"
    return repr(a)


def _fmt_args(args, kwargs, py=False) -> str:
    parts = [_fmt_one(a, py) for a in (args or ())]
    parts += [f"{k}={_fmt_one(v, py)}" for k, v in (kwargs or {}).items()]
    return ", ".join(parts)


def _fmt_fused(n, py=False) -> str:
    g = n.fused
    steps = "; ".join(f"{s.op}" for s in g.steps)
    ins = ", ".join(_py(v) if py else v.name for v in n.kargs)
    return f"fused_pointwise[{steps}]({ins})"
