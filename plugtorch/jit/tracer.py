"""The tracer: a dispatch mode that records a program's ops at both levels of the IR.

As a mode it sees every call through the dispatcher before autograd (the op level); as the
dispatcher's recorder it sees every kernel call below meta and decompositions (the kernel level).
Native arrays identify values: a kernel's result is a new value, an array never seen before
belongs to a tensor the program captured (a parameter, a buffer, optimizer state) or read as
some captured tensor's ``.grad``.
"""
from __future__ import annotations

import bisect
import functools
import gc
import os
import sys
import warnings

from plugtorch._tensor import Tensor
from plugtorch.dispatch import dispatcher as D
from plugtorch.dispatch.registry import OUT_INPLACE, OUT_MULTI, OUT_RAW, OUT_TENSOR, OUT_VIEW
from plugtorch.jit.ir import (CAPTURE, GRAD, INPUT, NODE, Graph, Node, OpCall, Read, Struct, Value, struct_of,
                              substitute, values_in)

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PKG_DIR = _PKG + os.sep      # (a file of plugtorch's own, not of a package beside it: plugtorch_extras/)
_INTERNAL = tuple(os.path.join(_PKG, d) for d in ("dispatch", "jit", "autograd", "compiler", "optim", "amp",
                                                  os.path.join("nn", "functional"), os.path.join("nn", "ops.py")))
_INTERNAL_FILES = tuple(os.path.join(_PKG, f) for f in ("_tensor.py", "_methods.py", "_ops_public.py",
                                                         "_ops_compound.py", "_indexing.py", "_out.py",
                                                         "_memory_format.py", "_ops_aliases.py",
                                                         "_ops_counting.py", "_ops_indices.py", "_ops_inplace.py",
                                                         "_ops_linalg.py", "_ops_products.py", "_ops_special.py"))
_SCALARS = (int, float, bool, str, type(None), complex)
# OUT_RAW ops that only read (their Python result is data the program then uses)
_READ_ONLY_RAW = frozenset({"allclose", "equal"})
# OpCall.grad of an op the program made under enable_grad() in a call entered under no_grad (truthy,
# as grad=True: the replay through autograd turns grad mode on for it)
ENABLE_GRAD = "enable_grad"


class TracerWarning(Warning):
    """A traced program did something a graph cannot repeat (as torch.jit.TracerWarning)."""


_SHOWN_AS: dict = {}      # (file name, cwd) -> as source_site shows it (relpath: ~40 us a call)


def source_site(skip_internal=True) -> str:
    """``file:line`` of the innermost frame outside plugtorch's own machinery."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not (fn.startswith(_INTERNAL) or fn in _INTERNAL_FILES or fn.startswith("<")):
            key = (fn, os.getcwd())
            shown = _SHOWN_AS.get(key)
            if shown is None:
                shown = _SHOWN_AS[key] = os.path.relpath(fn) if not fn.startswith("/usr") else fn
            return f"{shown}:{f.f_lineno}"
        f = f.f_back
    return ""


def _is_array_like(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, type)


def _history_freed(fn) -> bool:
    """Whether a backward from autograd node ``fn`` reaches a node whose saved values an
    earlier backward freed (eager raises there)."""
    seen, todo = set(), [fn]
    while todo:
        n = todo.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if n.released:
            return True
        todo.extend(e[0] for e in n.next_functions if e[0] is not None)
    return False


class Tracer(D.DispatchMode):
    """Records the calls of the block it is active in into ``self.graph``."""

    def __init__(self, warn=True):
        self.graph = Graph()
        # the grad mode the trace began in: a call made under no_grad only counts as the
        # program's own no_grad block (replayed so) when the trace began with gradients on and
        # no custom autograd.Function's forward made it; a whole trace taken under no_grad
        # replays in the caller's mode, as torch.jit.trace's
        self.entry_grad = D.grad_state.enabled
        self.entry_forced = D.grad_state.forced     # (grad mode turned on explicitly: a serial)
        # autograd nodes made from here on have a lower seq: a backward that runs one made before
        # (history of an input or a captured tensor) used values saved outside the graph
        from plugtorch.autograd.graph import next_seq
        self.seq0 = next_seq()
        self.outside_history: list = []   # names of such nodes a backward ran while tracing
        self.by_array: dict = {}      # id(native array) -> Value
        self.keep: list = []          # the arrays, alive while tracing (ids stay unique)
        self.tensors: dict = {}       # Value.index -> a Tensor holding it (captures, inputs)
        self.first_arrays: dict = {}  # Value.index -> the array an input or captured tensor held first
        self.depth = 0
        self.current = None
        self.warn = warn
        self.backward_ran = False
        self.enables_grad = False     # an op made under enable_grad() inside a call entered without grad
        self.backward_recorded = False   # a backward ran with create_graph=True (double backward)
        self.backward_retained = False   # a backward ran with retain_graph=True
        self.grad_first: dict = {}    # id(tensor) -> (tensor, first .grad event, .grad was None)
        self.made: dict = {}          # id(tensor) -> a cpu tensor plugtorch.tensor() made in the call
        self.copied: dict = {}        # id(tensor) -> (it, the NumPy array tensor() copied, its shape and bytes)
        self.scalar_reads: list = []  # (0-d cpu tensor, the number a meta function read, site)
        self.grad_events = 0          # .grad reads and assignments so far
        self.read_numbers: list = []  # _ReadNumber records of the program's item() calls
        self._pending_read = None     # (tensor, guard node, guard entry) of the item() under way
        self.calls_seen = 0           # calls the program made after its first read number (_watch)
        self._watching = False
        self._hook = None
        self._hook_lost = False
        self._old_recorder = None

    # --- entering ------------------------------------------------------------------------
    def __enter__(self):
        super().__enter__()
        self._old_recorder = D.set_recorder(self)
        return self

    def __exit__(self, *exc):
        if self._watching:
            if sys.getprofile() is self._hook:
                sys.setprofile(None)
            else:                 # (a profiler the program started since: left alone; calls went unseen)
                self._hook_lost = True
            self._watching = False
        D.set_recorder(self._old_recorder)
        return super().__exit__(*exc)

    def add_input(self, t: Tensor, pos: int) -> Value:
        v = self.graph.new_value(INPUT, t._data.shape, t._dtype, t._device)
        v.pos = pos
        v.strides = tuple(t.stride())
        st = getattr(t._data, "strides", None)
        v.native_strides = tuple(st) if isinstance(st, tuple) else None
        v.grad0_none = t._grad is None
        v.requires_grad = t._rg
        self.graph.inputs.append(v)
        first = self.by_array.get(id(t._data))
        if first is not None and first.kind == INPUT:
            # the same tensor (or array) passed twice, f(a, a): the trace cannot tell its uses
            # apart, so the graph replays only for a call passing one tensor there again
            v.same_as = first.pos
        else:
            self._bind(t._data, v)
        self.tensors[v.index] = t
        self.first_arrays[v.index] = t._data
        return v

    def grad_event(self, t, what):
        """Python reads (``read``) or assigns (``set``) ``t.grad``; the first event of each tensor
        decides whether the graph depends on the .grad the call finds (then it is guarded)."""
        self.grad_events += 1
        k = id(t)
        if k not in self.grad_first:
            self.grad_first[k] = (t, what, t._grad is None)

    def _bind(self, arr, v):
        self.by_array[id(arr)] = v
        self.keep.append(arr)

    # --- values --------------------------------------------------------------------------
    def value_of(self, t: Tensor) -> Value:
        """The Value of tensor ``t``: known, or captured now."""
        v = self.by_array.get(id(t._data))
        if v is not None:
            return v
        g = self.graph
        owner = None
        for idx, tt in self.tensors.items():   # the .grad of a tensor the program uses?
            if tt._grad is t:
                owner = g.values[idx]
                break
        else:
            # or of one whose .grad Python read before any op used the tensor itself
            # (clip_grad_value_ over p.grad first): the graph must read p.grad at each call, not
            # hold this tensor, which a backward outside the graph may have replaced since
            for tt, _what, _none in list(self.grad_first.values()):
                if tt._grad is t and tt is not t:
                    owner = self.value_of(tt)
                    break
        if owner is not None:
            v = g.new_value(GRAD, t._data.shape, t._dtype, t._device)
            v.grad_of = owner
        else:
            v = g.new_value(CAPTURE, t._data.shape, t._dtype, t._device)
            v.tensor = t
            v.grad0_none = t._grad is None
            v.requires_grad = t._rg
            self.tensors[v.index] = t
            self.first_arrays[v.index] = t._data
        g.captures.append(v)
        self._bind(t._data, v)
        return v

    def _template(self, t):
        """Arguments with Tensors replaced by their Values."""
        c = t.__class__
        if c is Tensor or isinstance(t, Tensor):
            return self.value_of(t)
        if c is list:
            return [self._template(x) for x in t]
        if c is tuple:
            return tuple(self._template(x) for x in t)
        if c is dict:
            return {k: self._template(x) for k, x in t.items()}
        return t

    def _out_template(self, r):
        c = r.__class__
        if c is Tensor or isinstance(r, Tensor):
            v = self.by_array.get(id(r._data))
            if v is None:    # a tensor made outside the dispatcher (captured as it is)
                v = self.value_of(r)
            return v
        if c is list or c is tuple:
            return c(self._out_template(x) for x in r)
        if c is dict:
            return {k: self._out_template(x) for k, x in r.items()}
        kind = struct_of(r)     # (a namedtuple, an OrderedDict: rebuilt as such by a replay)
        if kind is tuple:
            return Struct(c, tuple(self._out_template(x) for x in r))
        if kind is dict:
            return Struct(c, {k: self._out_template(x) for k, x in r.items()})
        return r

    # --- the op level (a mode) --------------------------------------------------------------
    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        if self.depth:
            self.depth += 1
            try:
                return call(args, kwargs)
            finally:
                self.depth -= 1
        gs = D.grad_state
        grad = gs.enabled or not self.entry_grad or gs.in_function > 0
        if gs.enabled and (not self.entry_grad or gs.forced > self.entry_forced) and gs.in_function == 0:
            # (enable_grad(), set_grad_enabled(True) or inference_mode(False) inside the call:
            # autograd records it there even when the call is made under no_grad, so a replay
            # under no_grad must too)
            grad, self.enables_grad = ENABLE_GRAD, True
        rec = OpCall(op, self._template(args), self._template(kwargs), source_site(), grad)
        prev = self.current
        self.current = rec
        self.depth = 1
        try:
            res = call(args, kwargs)
        finally:
            self.depth = 0
            self.current = prev
            if self.scalar_reads:     # numbers read that no kernel call took as they were
                self._scalar_breaks(self.scalar_reads)
        rec.outs = self._out_template(res)
        self.graph.ops.append(rec)
        return res

    # --- the kernel level (the dispatcher's recorder) ---------------------------------------
    def kernel_call(self, op, dev, kernel, kargs, out, res, args, kwargs):
        g = self.graph
        run_args = self._template(args)
        run_kwargs = self._template(kwargs)
        pre = True
        writes = []

        def karg(x):
            nonlocal pre
            c = x.__class__
            if c in _SCALARS:
                return x
            if c is list or c is tuple:
                return c(karg(y) for y in x)
            v = self.by_array.get(id(x))
            if v is not None:
                return v
            if _is_array_like(x) and not hasattr(x, "numpy_dtype") and not _is_dtype(x):
                pre = False     # an array the meta function made: run this node at the op level
                return None
            return x            # dtypes, devices, generators ...: passed as they are

        scalars = self._take_scalar_reads(op, dev, kargs) if self.scalar_reads else None
        ktemplate = tuple(karg(x) if scalars is None or k not in scalars else scalars[k]
                          for k, x in enumerate(kargs))
        if "random" in op.tags:
            pre = False     # the meta function picks the generator's current state: run it per call
        kind = op.out_kind
        if kind == OUT_INPLACE:
            w = ktemplate[0] if pre else None
            if w is None and run_args and isinstance(run_args[0], Value):
                w = run_args[0]
            if w is not None:
                writes.append(w)
        elif kind == OUT_RAW and op.name not in _READ_ONLY_RAW:
            from plugtorch.jit.ir import values_in
            written = getattr(op, "writes", None)    # (the registry's; check nodes have none)
            if written is not None and not run_kwargs:
                writes.extend(values_in(written(run_args)))     # (the same Values as the kernel's arrays)
            else:
                writes.extend(values_in(ktemplate if pre else run_args))
        outs = []
        if kind in (OUT_TENSOR, OUT_VIEW):
            known = self.by_array.get(id(res))
            if known is not None and kind == OUT_TENSOR:
                return      # the kernel returned its input: the same value, no node
            outs.append(self._new_out(res, out, dev, kind == OUT_VIEW, ktemplate if pre else run_args))
        elif kind == OUT_MULTI:
            for r, d in zip(res, out):
                outs.append(None if r is None else self._new_out(r, d, dev, False, None))
        elif kind == OUT_RAW and op.name in _READ_ONLY_RAW:
            self.host_read(None, op.name)
        n = Node(op, dev, kernel, ktemplate if pre else None, outs, writes, run_args, run_kwargs, self.current)
        for o in outs:
            if o is not None:
                o.producer = n
        g.nodes.append(n)
        if self.current is not None:
            self.current.nodes.append(n)

    # --- 0-d cpu tensors beside a device: numbers read by meta functions, per call ---------------
    def scalar_read(self, t):
        """A meta function reads the 0-d cpu tensor ``t`` as a number, a kernel argument on another
        device (``meta.native``). The kernel call that receives the number as it is reads it
        through an ``_item`` node at each replay, so the graph holds no constant in its place;
        a number that no pointwise kernel receives unchanged is a graph break, as ``item()`` is."""
        x = t._backend().to_numpy(t._data).reshape(()).item()
        self.scalar_reads.append((t, x, source_site()))
        return x

    def _take_scalar_reads(self, op, dev, kargs) -> dict:
        """Argument position -> the ``_item`` node's Value, for each pending read that this
        pointwise kernel call receives at exactly one position (the same object)."""
        reads, self.scalar_reads = self.scalar_reads, []
        found, rest = {}, []
        for t, x, site in reads:
            pos = [k for k, a in enumerate(kargs) if a is x]
            if "pointwise" not in op.tags or len(pos) != 1 or pos[0] in found:
                rest.append((t, x, site))
                continue
            src = self.value_of(t)
            v = self.graph.new_value(NODE, (), t._dtype, t._device)
            n = Node(ITEM_OP, t._device, _item_kernel(t._device), (src,), [v], [], (src,), {}, self.current)
            v.producer = n
            self.graph.nodes.append(n)
            if self.current is not None:
                self.current.nodes.append(n)
            found[pos[0]] = v
        if rest:
            self._scalar_breaks(rest)
        return found

    def _scalar_breaks(self, reads):
        self.scalar_reads = []
        for t, x, site in reads:
            self._break("item", site)

    def composite_call(self, op, args, kwargs, res):
        """A composite op returned tensors no kernel call produced (a transfer through host
        memory, say): the graph runs the op itself there."""
        outs = list(_tensors_in(res)) if not isinstance(res, Tensor) else [res]
        if not outs or all(id(t._data) in self.by_array for t in outs):
            return
        if not isinstance(res, Tensor) and not (isinstance(res, tuple) and all(
                isinstance(t, Tensor) or t is None for t in res)):
            return
        vals = []
        for t in ([res] if isinstance(res, Tensor) else list(res)):
            if t is None:
                vals.append(None)
                continue
            v = self.by_array.get(id(t._data))
            if v is None:
                v = self._new_out(t._data, t._dtype, t._device, False, None)
            vals.append(v)
        n = Node(op, outs[0]._device, None, None, vals, [], self._template(args), self._template(kwargs),
                 self.current)
        n.out_dtypes = "tensor" if isinstance(res, Tensor) else "tuple"
        for v in vals:
            if v is not None and v.producer is None:
                v.producer = n
        self.graph.nodes.append(n)
        if self.current is not None:
            self.current.nodes.append(n)

    def check_node(self, flag, exc_type, message):
        """An argument check on data (dispatcher.data_check): the replay runs it too."""
        v = self.value_of(flag)
        dev = flag._device
        node = Node(CHECK_OP, dev, _check_kernel(dev, exc_type, message), (v,), [], [], (v,), {},
                    self.current)
        self.graph.nodes.append(node)
        if self.depth == 0:    # (a check inside an op's code runs again with the op)
            self.graph.checks.append((len(self.graph.ops), v, exc_type, message))

    def _new_out(self, arr, dtype, dev, view, src):
        v = self.graph.new_value(NODE, arr.shape, dtype, dev)
        if view:
            base = src[0] if src and isinstance(src[0], Value) else None
            if base is not None:
                v.root = base.root
        self._bind(arr, v)
        return v

    # --- generators the program seeds or restores ---------------------------------------------
    def rng_state_read(self, t):
        """The program reads a generator's state (``get_state``, ``get_rng_state``)."""
        self._rng_reads = getattr(self, "_rng_reads", [])
        self._rng_reads.append(t)

    def generator_restored(self):
        """``fork_rng`` puts back generators the block drew from or seeded: the state it restores
        is the one at each call, which a replay would not follow (a graph break, as ``set_state``
        of a state read in the same call)."""
        self._break("set_state", source_site(), stacklevel=4)

    def generator_reset(self, gen, kind, value):
        """The program seeds ``gen`` (``manual_seed``) or sets its state: a node does the same at
        each replay, before the random nodes after it draw. Restoring a state the program read in
        this same call (``fork_rng``, ``utils.checkpoint``) gives another state at each call: a
        graph break."""
        site = source_site()
        if kind == "state":
            if any(value is t for t in getattr(self, "_rng_reads", ())):
                self._break("set_state", site, stacklevel=4)
                return
            value = value.detach().to("cpu").clone()
        if gen is None:     # plugtorch.manual_seed: every default generator, made later ones too
            from plugtorch._device import canonical
            dev = canonical("cpu")
        else:
            dev = gen.device
        node = Node(SEED_OP, dev, _seed_kernel(gen, kind, value), (), [], [], (gen,), {}, self.current)
        self.graph.nodes.append(node)
        if self.current is not None:
            self.current.nodes.append(node)

    # --- Python reading data ---------------------------------------------------------------
    def host_read(self, t, why):
        """Python reads a tensor's data (item, bool, tolist ...): the graph cannot repeat it."""
        site = source_site()
        if self.depth == 0:     # (where compile may split the function: plugtorch.compiler.resume)
            from plugtorch.compiler.resume import read_stack
            self.graph.read_stacks.append(read_stack(1))
        # (a composite op's own reads are its business: onnx export folds or refuses it; a value
        # computed from parameters and constants alone is the same for every input)
        known = t is None or id(t._data) in self.by_array    # (else data the program brought along)
        if self.depth == 0 and known and (t is None or self._varies(self.by_array.get(id(t._data)))):
            self.graph.program_reads.append((why, site))
        if t is not None and why in _GUARDED_READS and self._guard(t, why, site):
            if why == "item" and self.depth == 0:     # (read_result may make it a late read)
                self._pending_read = (t, self.graph.nodes[-1], self.graph.guards[-1])
            self._warn(why, site, stacklevel=5)
            return
        self._break(why, site, stacklevel=5)   # (the caller of item() and the like)

    def _guard(self, t, why, site) -> bool:
        """Python reads ``t`` (a number or a list it can only read, not write): a replay reads it
        again (a guard node) and stops unless the data equals what the trace read, since the
        Python after the read -- a branch, a number passed to an op -- followed that data."""
        dev = t._device
        be = dev._backend
        if be is None or not hasattr(be, "to_numpy"):
            return False
        import numpy as np
        data = np.array(be.to_numpy(t._data), copy=True, order="C")
        v = self.value_of(t)
        node = Node(GUARD_OP, dev, _guard_kernel(be, data), (v,), [], [], (v,), {}, self.current)
        self.graph.nodes.append(node)
        if self.current is not None:
            self.current.nodes.append(node)
        self.graph.guards.append((why, site, len(self.graph.ops) if self.depth == 0 else None, v, data))
        node.kernel.read = (why, site)
        return True

    def read_result(self, t, number):
        """``t.item()`` gave ``number`` to the program: hand it a number that notes its own use
        (arithmetic, comparisons, conversions, formatting). One the call only returns, after its
        last op, becomes a late read (``_late_reads``): the replay reads it again, unguarded."""
        pending, self._pending_read = self._pending_read, None
        if pending is None or pending[0] is not t or number.__class__ not in _READ_NUMBER:
            return number
        # (a plain number stays a guard: where a profiler other than ours runs, calls go unseen;
        # where the code after the read does more than return it, it may use the number where
        # no dunder sees it: ys[k], arr[0] = n, "%f" % n)
        if sys.getprofile() is not self._hook:     # (None before the first such read)
            return number
        try:
            if not _only_returns(sys._getframe(2)):
                return number
        except Exception:        # (code this analysis does not know: the read stays a guard)
            return number
        if not (self._watching or self._watch()):
            return number
        wrapped = _READ_NUMBER[number.__class__](number)
        wrapped._used = False
        g = self.graph
        self.read_numbers.append((wrapped, pending[1], pending[2], len(g.nodes), len(g.ops), len(g.values),
                                  self.grad_events, self.calls_seen))
        return wrapped

    def _watch(self):
        """Count the calls the program makes from now on (``sys.setprofile``): a function or a
        builtin it calls after a read (``print``, ``list.append``, ``math.exp``, a logger) may use
        the number in a way no dunder sees; ``item()`` (all it calls: the tracer's own checks, a
        warning) and plugtorch's own code do not count. (Called from within an ``item()``.)"""
        if sys.getprofile() is not None:      # (a profiler runs: do not replace it; nothing is relaxed)
            return False
        item_code = Tensor.item.__code__

        def hook(frame, event, arg):
            if event == "call":
                code = frame.f_code
                if code is item_code or code.co_filename.startswith(_PKG_DIR):
                    return
                f = frame.f_back
            elif event == "c_call":
                if frame.f_code.co_filename.startswith(_PKG_DIR):
                    return
                f = frame
            else:
                return
            while f is not None:      # (a call within an item(): the tracer's own analysis, a warning)
                if f.f_code is item_code:
                    return
                f = f.f_back
            self.calls_seen += 1
        self._watching = True
        self._hook = hook
        sys.setprofile(hook)
        return True

    def _late_reads(self, result):
        """Turn the guards of the program's trailing reads into ``Read`` outputs where that is
        sound: nothing was traced after them (no op, kernel, check or .grad event), their numbers
        were not used but returned as they were, and the return value holds no other Python
        number or string (one could have been computed from a read number) and no tensor made
        after them. Then the graph cannot depend on their data, and the replay reads them afresh."""
        g = self.graph
        reads = self.read_numbers
        if not reads:
            return
        guard_nodes = {id(r[1]): r for r in reads}
        tail = []
        for n in reversed(g.nodes):
            r = guard_nodes.get(id(n))
            if r is None or r[0]._used:
                break
            tail.append(r)
        if not tail:
            return
        first = tail[-1]
        # (the read's own guard node is the last node when it finished; nodes after it are reads too;
        # a profiler that replaced ours since has hidden the calls made after it)
        if len(g.ops) != first[4] or self.grad_events != first[6] or self.calls_seen != first[7] or \
                self._hook_lost or (self._watching and sys.getprofile() is not self._hook):
            return
        by_id = {id(r[0]): r for r in tail}
        ok = [True]

        def leaf(x):
            c = x.__class__
            if c is Value:
                if x.index >= first[5]:
                    ok[0] = False
                return x
            if c is list or c is tuple:
                return c(leaf(y) for y in x)
            if c is dict:
                if any(k.__class__ not in _KEYS for k in x):    # (a read number as a key, or in one)
                    ok[0] = False
                return {k: leaf(y) for k, y in x.items()}
            if c is Struct:
                return Struct(x.type, leaf(x.items))
            r = by_id.get(id(x))
            if r is not None and r[0] is x:
                return Read(r[1].kargs[0], "item")
            if x is not None:
                ok[0] = False
            return x
        outputs = leaf(g.outputs)
        if not ok[0] or not self._held_only_by(tail, result):
            return
        g.outputs = outputs
        drop = {id(r[1]) for r in tail}
        entries = {id(r[2]) for r in tail}
        g.nodes = [n for n in g.nodes if id(n) not in drop]
        g.late_reads = [(e[0], e[1]) for e in g.guards if id(e) in entries]
        g.guards = [e for e in g.guards if id(e) not in entries]

    def _held_only_by(self, tail, result) -> bool:
        """Whether nothing but the return value (and the tracer's frames) holds the read numbers:
        one stored elsewhere (a list, an attribute, a closure cell) is Python state a replay would
        not update."""
        allowed = {id(self.read_numbers), id(self.graph)} | {id(r) for r in self.read_numbers}
        todo = [result, self.graph.outputs]
        while todo:
            x = todo.pop()
            if x.__class__ in (list, tuple, dict):
                allowed.add(id(x))
                todo.extend(x.values() if x.__class__ is dict else x)
        f = sys._getframe()        # (the frames running now; a finished one kept alive is state)
        while f is not None:
            allowed.add(id(f))
            f = f.f_back
        for r in tail:
            for ref in gc.get_referrers(r[0]):
                if id(ref) not in allowed:
                    return False
        return True

    def _varies(self, value):
        """Whether ``value`` follows the inputs or a random draw: a walk back through the nodes
        that produced or wrote into it (or into the memory it views)."""
        if value is None:
            return True
        writers = {}
        for n in self.graph.nodes:
            for w in n.writes:
                writers.setdefault(id(w.root), []).append(n)
        seen, todo = set(), [value]
        while todo:
            v = todo.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            if v.kind == INPUT or v.kind == GRAD:
                return True
            nodes = ([v.producer] if v.producer is not None else []) + writers.get(id(v.root), [])
            if v.root is not v:
                todo.append(v.root)
            for n in nodes:
                if "random" in n.op.tags:
                    return True
                todo.extend(n.inputs())
        return False

    def _break(self, why, site, stacklevel=2):
        self.graph.breaks.append((why, site))
        self._warn(why, site, stacklevel + 1)

    def _warn(self, why, site, stacklevel):
        if self.warn:
            what = {"item": "a Python number (item())", "bool": "a Python boolean",
                    "tolist": "a Python list (tolist())", "numpy": "a NumPy array",
                    "float": "a Python float", "int": "a Python integer", "complex": "a Python complex",
                    "iter": "a Python iterator", "storage": "its storage (untyped_storage())"}.get(why, why)
            warnings.warn(f"Converting a tensor to {what} might cause the trace to be incorrect. We can't "
                          f"record the data flow of Python values, so this value will be treated as a "
                          f"constant in the future. This means that the trace might not generalize to "
                          f"other inputs! ({why} at {site or 'unknown'})", TracerWarning, stacklevel=stacklevel)

    def _returned_history(self, result):
        """A call that ran backward replays dispatch-free, so its outputs come back without
        autograd history. Each output that had history is given, at each replay, a grad_fn
        that raises on backward (ir.py): eager's error where the call's backward freed that
        history (the returned loss), a message saying the replay recorded none where it did
        not (a forward after the step). Either way it requires grad and has a grad_fn, as
        eager's; neither lets a backward leave a gradient out silently."""
        from plugtorch.jit.ir import CompiledFunctionBackward, RetainedBackward, UnrecordedBackward
        history = {}
        for t in flatten_tensors((result,))[0]:
            if t.grad_fn is None:
                continue
            v = self.by_array.get(id(t._data))
            if v is None or v.kind != NODE:
                continue    # (an input or captured tensor is returned as itself, history and all)
            if _history_freed(t.grad_fn):
                history.setdefault(v.index, CompiledFunctionBackward)
            else:
                history[v.index] = RetainedBackward if self.backward_retained else UnrecordedBackward
        if self.warn and any(h is not CompiledFunctionBackward for h in history.values()):
            how = " (backward(retain_graph=True) kept it)" if self.backward_retained else ""
            warnings.warn("the traced call runs backward and returns a tensor with autograd history that backward did "
                          f"not free{how}: a replay returns it requiring grad, but a backward through it raises (the "
                          "replay records no history)", TracerWarning, stacklevel=4)
        self.graph.output_history = history

    # --- finishing -----------------------------------------------------------------------------
    def finish(self, result):
        """Record the outputs and what the program left in Python state (``.grad``)."""
        g = self.graph
        g.outputs = self._out_template(result)
        self._late_reads(result)
        if self.outside_history:
            names = ", ".join(dict.fromkeys(self.outside_history))
            g.breaks.append((f"runs backward through autograd history made before the call ({names}): a replay "
                             "would reuse the values that history saved then", ""))
            g.outside_history = names
        if self.backward_recorded and any(t.grad_fn is not None for t in flatten_tensors((result,))[0]):
            # a graph that ran backward replays dispatch-free: its outputs would lose the history
            # a gradient penalty or a Hessian-vector product differentiates through
            g.breaks.append(("runs backward with create_graph=True and returns a tensor with that autograd "
                             "history, which a replay would return without it", ""))
        if self.backward_retained and not self.backward_recorded and any(
                t.grad_fn is not None and not _history_freed(t.grad_fn) for t in flatten_tensors((result,))[0]):
            # (a second backward through it runs in eager; a replay has no history to run)
            g.breaks.append(("runs backward with retain_graph=True and returns a tensor with the autograd history "
                             "it kept, which a replay would return without it", ""))
        if self.backward_ran and not self.backward_recorded:
            self._returned_history(result)
        if self.warn and D.grad_state.enabled is not self.entry_grad:   # (set_grad_enabled() as a call)
            warnings.warn(f"the traced call leaves grad mode {'on' if D.grad_state.enabled else 'off'} (it was "
                          f"{'on' if self.entry_grad else 'off'}): a replay does not change grad mode (use "
                          "set_grad_enabled(...) as a block, or call it outside the traced function)",
                          TracerWarning, stacklevel=3)
        # an input or captured tensor the call gave another shape or strides in place
        # (unsqueeze_, t_, transpose_, squeeze_, as_strided_, ``.data =``): the graph holds the
        # new metadata only as a view, so a replay would leave the tensor as it was
        for idx, t in list(self.tensors.items()):
            v = g.values[idx]
            if v.kind in (INPUT, CAPTURE) and self.first_arrays.get(idx, t._data) is not t._data:
                what = f"input {v.pos}" if v.kind == INPUT else "a tensor it captured"
                why = (f"changes the shape or strides of {what} in place ({list(v.shape)} to {list(t.shape)}: "
                       "unsqueeze_, t_, transpose_, squeeze_, as_strided_ or .data =), which a replay would "
                       "not repeat")
                g.breaks.append((why, ""))
                if self.warn:
                    warnings.warn(f"the traced call {why}", TracerWarning, stacklevel=3)
        # a tensor made from host data (plugtorch.tensor(...) in the call: no op made it, so the
        # graph captured it) then written in place: eager makes it afresh at each call, a replay
        # would write into the one captured tensor again and again (plugtorch.compile traces
        # again: state made on the first call is there at the next)
        captured = {id(v.tensor) for v in g.captures if v.tensor is not None}
        g.host_made = any(k in captured for k in self.made)
        g.made_in_call, g.made_in_call_returned, self.made = self._written_tensors_made_in_call(), \
            self._returned_tensors_made_in_call(), {}
        # a NumPy array plugtorch.tensor() copied into a tensor the graph captured: the graph holds
        # the values it had (the program may change the array in place between calls)
        if self.copied:
            g.host_copies = [(src, snap) for t, src, snap in self.copied.values() if id(t) in captured]
            self.copied = {}
        if (g.made_in_call or g.made_in_call_returned) and self.warn:
            warnings.warn(f"the traced call {made_in_call_reason(g)}: make it with a factory op (plugtorch.zeros, "
                          "full) or pass it in", TracerWarning, stacklevel=3)
        g.backward_ran = self.backward_ran
        g.enables_grad = self.enables_grad
        # .grad left behind: every tensor the program used or whose .grad it touched
        tensors = {id(t): t for t in self.tensors.values()}
        for k, (t, what, was_none) in self.grad_first.items():
            tensors.setdefault(k, t)
        by_tensor = {id(t): g.values[i] for i, t in self.tensors.items()}
        for k, t in tensors.items():
            first = self.grad_first.get(k)
            v = by_tensor.get(k)
            initial_none = first[2] if first is not None else (v.grad0_none if v is not None else t._grad is None)
            if first is not None and first[1] == "read":
                g.grad_guards.append((t if v is None or v.kind != INPUT else v, initial_none))
            new = t._grad
            if new is None:
                if not initial_none:
                    g.grad_bindings.append((v if v is not None else t, None))
                continue
            gv = self.by_array.get(id(new._data))
            if gv is not None and gv.kind == NODE:
                g.grad_bindings.append((v if v is not None else t, gv))
            elif first is not None and first[1] == "set" or initial_none:
                g.escapes.append(f"the .grad of a tensor was set to a tensor computed outside the graph")
        self._find_escapes(result)
        return g

    def made_from_host(self, t, src=None):
        """``plugtorch.tensor(...)`` or ``from_numpy(...)`` made cpu tensor ``t`` from host data
        while tracing (no op made it: the graph captures it as it is, like a tensor from before
        the call); ``src``: the NumPy array ``tensor()`` copied, if it did."""
        self.made[id(t)] = t
        if src is not None:
            self.copied[id(t)] = (t, src, (src.shape, src.tobytes()))

    def _written_tensors_made_in_call(self) -> str:
        """The names of the captured tensors the call made from host data and the graph writes
        into (a counter ``plugtorch.tensor(0.0)`` it then increments), or ""."""
        g = self.graph
        return ", ".join(dict.fromkeys(
            w.root.name for n in g.nodes for w in n.writes
            if w.root.kind == CAPTURE and self.made.get(id(self.tensors.get(w.root.index))) is not None))

    def _returned_tensors_made_in_call(self) -> str:
        """The names of the captured tensors the call made from host data and returns (or a view
        of them), or "": eager returns a new tensor at each call, a replay the one captured
        tensor again, with whatever the caller wrote into it since."""
        if not self.made:
            return ""
        return ", ".join(dict.fromkeys(
            v.root.name for v in values_in(self.graph.outputs)
            if v.root.kind == CAPTURE and self.made.get(id(self.tensors.get(v.root.index))) is not None))

    def _find_escapes(self, result):
        """Values the graph computed that Python code still holds (stored on an object, say):
        a replay would not update them, so the graph must not be trusted to stand in for the call."""
        g = self.graph
        legit = set()
        for v in g.output_values():
            legit.add(v.index)
            legit.add(v.root.index)
        # tensors saved by autograd for outputs that require grad (their graph keeps them alive)
        saved = set()
        legit_arrays = saved
        stack = []
        for t in _tensors_in(result):
            if t.grad_fn is not None:
                stack.append(t.grad_fn)
            if t._base is not None:
                legit_arrays.add(id(t._base._data))
        seen = set()
        while stack:
            fn = stack.pop()
            if fn is None or id(fn) in seen:
                continue
            seen.add(id(fn))
            for tt in _saved_tensors((getattr(fn, "saved", None), getattr(fn, "result", None),
                                      getattr(fn, "args", None))):
                saved.add(id(tt._data))
                if tt._base is not None:     # a view keeps its base tensor alive
                    saved.add(id(tt._base._data))
            for e in (getattr(fn, "next_functions", None) or ()):
                if e is not None:
                    stack.append(e[0])
        cand = {}
        for arr in self.keep:
            v = self.by_array.get(id(arr))
            if v is not None and v.kind == NODE and v.index not in legit and id(arr) not in saved:
                cand[id(arr)] = v
        arrays = [a for a in self.keep if id(a) in cand]
        self.keep = None
        self.by_array = None
        # an array that nothing but this list, getrefcount's argument and the views among these
        # arrays refers to is held by no tensor: only the others need the collection and the
        # heap scan (~0.1 s in a big process)
        views = {}
        for base in [getattr(a, "base", None) for a in arrays]:
            if base is not None:
                views[id(base)] = views.get(id(base), 0) + 1
        base = None
        arrays = [a for a in arrays if sys.getrefcount(a) > 3 + views.get(id(a), 0)]
        if not arrays:
            return
        gc.collect()
        for r in gc.get_referrers(*arrays):    # one scan of the heap for all of them
            # a Tensor refers to its array directly, or through its materialised __dict__
            # (CPython keeps attributes inline until something makes the dict)
            data = r._data if isinstance(r, Tensor) else (
                r.get("_data") if r.__class__ is dict and "_dtype" in r and "_device" in r else None)
            if data is not None:
                v = cand.get(id(data))
                if v is not None:
                    g.escapes.append(f"{v!r} (made by {v.producer.op.name if v.producer else '?'})")
                    cand.pop(id(data))


def made_in_call_reason(graph) -> str:
    if graph.made_in_call:
        return (f"writes in place into a tensor it made from host data ({graph.made_in_call}: plugtorch.tensor(...) "
                "or from_numpy(...) in the call), which a replay would not make afresh")
    return (f"returns a tensor it made from host data ({graph.made_in_call_returned}: plugtorch.tensor(...) or "
            "from_numpy(...) in the call), which a replay would not make afresh (it would return the one tensor "
            "again, with what the caller wrote into it)")


class _CheckOp:
    """The op of a check node (not a registry op: checks are not part of the op-level graph)."""
    name = "_data_check"
    tags = frozenset({"check"})
    out_kind = OUT_RAW


CHECK_OP = _CheckOp()


class _ItemOp:
    """The op of a node reading a 0-d cpu tensor as a number for a kernel on another device (not
    a registry op: the op-level graph passes the tensor, whose meta reads it)."""
    name = "_item"
    tags = frozenset({"item"})
    out_kind = OUT_TENSOR


ITEM_OP = _ItemOp()


class _SeedOp:
    """The op of a node seeding a generator or setting its state (not a registry op); tagged
    random, so passes keep it in order with the draws around it."""
    name = "_seed"
    tags = frozenset({"random"})
    out_kind = OUT_RAW


SEED_OP = _SeedOp()


def _seed_kernel(gen, kind, value):
    if kind == "global":
        from plugtorch import random as _random

        def seed():
            _random.manual_seed(value)
        return seed
    if kind == "seed":
        def seed():
            gen.manual_seed(value)
    else:
        def seed():
            gen.set_state(value)
    return seed


class _GuardOp:
    """The op of a node repeating a read Python made while tracing (``item()``, ``bool()``,
    ``tolist()``): the replay stops unless the data equals the traced data (not a registry op)."""
    name = "_guard"
    tags = frozenset({"check", "guard"})
    out_kind = OUT_RAW


GUARD_OP = _GuardOp()

# dunders through which Python uses a number: a read number used so stays guarded
_USES = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
         "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__divmod__", "__rdivmod__", "__pow__",
         "__rpow__", "__neg__", "__pos__", "__abs__", "__invert__", "__and__", "__rand__", "__or__", "__ror__",
         "__xor__", "__rxor__", "__lshift__", "__rlshift__", "__rshift__", "__rrshift__", "__bool__",
         "__int__", "__float__", "__index__", "__complex__", "__round__", "__trunc__", "__floor__", "__ceil__",
         "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__format__", "__str__", "__repr__",
         "as_integer_ratio", "is_integer", "hex", "conjugate", "bit_length", "bit_count", "to_bytes",
         "__getnewargs__", "__reduce__", "__reduce_ex__", "__deepcopy__", "__copy__")


def _read_number_class(base):
    """A subclass of ``base`` (float, int) whose instances note any use (``_used``)."""
    ns = {"__hash__": base.__hash__, "__doc__": f"A {base.__name__} a traced item() returned."}
    for name in _USES:
        f = getattr(base, name, None)
        if f is None:
            continue

        def use(self, *a, _f=f):
            self._used = True
            return _f(self, *a)
        use.__name__ = name
        ns[name] = use

    def reduce(self, *a):       # (pickled and copied as the plain number: the class is not importable)
        self._used = True
        return base, (base(self),)
    ns["__reduce__"] = ns["__reduce_ex__"] = reduce
    return type(f"_Read{base.__name__.capitalize()}", (base,), ns)


_READ_NUMBER = {float: _read_number_class(float), int: _read_number_class(int)}
_KEYS = frozenset({str, int, float, bool, type(None)})

# what the code between a read and the traced call's return may run (besides further ``.item()``
# calls and returns) for the read to be returned unguarded: loads, local stores, tuples, lists and
# dicts. Anything else may use the number where no dunder sees it: a subscript (``ys[k]`` takes an
# int's value directly), a store into an array (``arr[0] = n``), ``"%f" % n``, a comparison with a
# NumPy scalar, a branch on ``n.real``, a yield. (A with block's exit call is let through: the
# profile hook sees it.)
_PLAIN_OPS = frozenset({
    "NOP", "CACHE", "RESUME", "EXTENDED_ARG", "PUSH_NULL", "POP_TOP", "COPY", "SWAP", "ROT_TWO",
    "ROT_THREE", "DUP_TOP", "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_LOAD_FAST", "LOAD_CONST",
    "STORE_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST", "LOAD_DEREF", "LOAD_GLOBAL",
    "LOAD_ATTR", "LOAD_METHOD", "BUILD_TUPLE", "BUILD_LIST", "BUILD_MAP", "BUILD_CONST_KEY_MAP",
    "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_ABSOLUTE", "JUMP", "RETURN_VALUE", "RETURN_CONST"})
_CALL_OPS = frozenset({"CALL", "CALL_METHOD", "CALL_FUNCTION"})
_RETURNS: dict = {}      # (code, offset of the call that read) -> whether its rest only returns


def _only_returns(f) -> bool:
    """Whether ``f``, the frame that called ``item()``, and the frames of the program's code above
    it, up to the traced call, run nothing after the read but ``_PLAIN_OPS``, further ``.item()``
    calls, with blocks' exits and returns, outside any ``try`` block. The read must be a direct
    ``t.item()`` in the program's code, and each frame above must have called the one below it
    directly (a C function between them, ``arr.extend(map(f, ts))``, may use the number it gets).
    plugtorch's own frames between them (``Module.__call__``) are trusted."""
    from plugtorch.jit.api import trace_call
    stop = trace_call.__code__
    if f is None or f.f_code.co_filename.startswith(_PKG_DIR):
        return False
    inner = None
    while f is not None:
        code = f.f_code
        if code is stop:
            return True
        if not code.co_filename.startswith(_PKG_DIR):
            key = (code, f.f_lasti)
            ok = _RETURNS.get(key)
            if ok is None:
                if len(_RETURNS) > 4096:
                    _RETURNS.clear()
                ok = _RETURNS[key] = _rest_returns(code, f.f_lasti)
            if not ok or not (_calls_item(code, f.f_lasti) if inner is None else _calls(f, inner)):
                return False
        inner = f
        f = f.f_back
    return False


@functools.lru_cache(maxsize=256)
def _code_instructions(code):
    import dis
    ins = tuple(dis.get_instructions(code))
    return ins, [i.offset for i in ins]


def _instructions(code, lasti):
    ins, offsets = _code_instructions(code)
    return ins, bisect.bisect_right(offsets, lasti) - 1     # (3.11: lasti is in the call's caches)


def _calls_item(code, lasti) -> bool:
    """Whether the call at ``lasti`` is ``<expression>.item()``."""
    ins, k = _instructions(code, lasti)
    if k < 1 or ins[k].opname not in _CALL_OPS or ins[k].arg != 0:
        return False
    j = k - 1
    if ins[j].opname == "PRECALL" and ins[j].arg == 0 and not ins[j].is_jump_target:
        j -= 1
    return not ins[k].is_jump_target and ins[j].argval == "item" and ins[j].opname in ("LOAD_METHOD", "LOAD_ATTR")


_LOADS = ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF")


def _effect(i):
    """(pops, pushes) of an instruction an argument list may hold (3.11, 3.12), or None."""
    name, arg = i.opname, i.arg
    if name in _LOADS or name in ("LOAD_CONST", "PUSH_NULL"):
        return 0, 1
    if name == "LOAD_GLOBAL":
        return 0, 1 + (arg & 1)
    if name == "LOAD_ATTR":
        return 1, 1 + (arg & 1 if sys.version_info >= (3, 12) else 0)
    if name == "LOAD_METHOD":
        return 1, 2
    if name in ("PRECALL", "KW_NAMES", "NOP", "CACHE", "EXTENDED_ARG"):
        return 0, 0
    if name == "CALL":
        return arg + 2, 1
    if name == "CALL_FUNCTION_EX":
        return 3 + (arg & 1), 1
    if name in ("BINARY_OP", "BINARY_SUBSCR", "COMPARE_OP"):
        return 2, 1
    if name in ("BUILD_TUPLE", "BUILD_LIST"):
        return arg, 1
    if name == "BUILD_MAP":
        return 2 * arg, 1
    if name == "BUILD_CONST_KEY_MAP":
        return arg + 1, 1
    if name in ("UNARY_NEGATIVE", "UNARY_INVERT", "UNARY_NOT"):
        return 1, 1
    return None


def _pusher(ins, k, pos):
    """(index of the instruction that pushed the value ``pos`` from the top of the stack as
    ``ins[k]`` finds it, its place among that instruction's pushes from the top), in straight-line
    code; None where that is not plain."""
    j = k - 1
    while j >= 0:
        if ins[j + 1].is_jump_target:
            return None
        e = _effect(ins[j])
        if e is None:
            return None
        p, q = e
        if pos < q:
            return j, pos
        pos += p - q
        j -= 1
    return None


_MISSING = object()


def _loaded(f, ins, at):
    """The value the instruction ``at`` (from ``_pusher``) pushed, where a plain load: else _MISSING."""
    if at is None or at[1] != 0:
        return _MISSING
    i = ins[at[0]]
    if i.opname in _LOADS:
        return f.f_locals.get(i.argval, _MISSING)
    if i.opname == "LOAD_GLOBAL":
        v = f.f_globals.get(i.argval, _MISSING)
        if v is _MISSING:
            b = f.f_builtins
            v = b.get(i.argval, _MISSING) if isinstance(b, dict) else getattr(b, i.argval, _MISSING)
        return v
    if i.opname == "LOAD_CONST":
        return i.argval
    return _MISSING


def _attribute(obj, name):
    """``obj.name`` where no code runs to get it (a function of its class, a submodule), else _MISSING."""
    import inspect
    from plugtorch.nn.modules.module import Module
    if isinstance(obj, Module):
        mods = obj.__dict__.get("_modules")
        if mods is not None and name in mods:
            return mods[name]
    try:
        v = inspect.getattr_static(obj, name)
    except AttributeError:
        return _MISSING
    if isinstance(v, (staticmethod, classmethod)):
        v = v.__func__
    return v


def _calls(f, inner) -> bool:
    """Whether the call running in frame ``f`` calls the function of frame ``inner`` directly (or,
    ``inner`` being plugtorch's, calls a module or a plugtorch function): 3.11 and 3.12 only."""
    import types
    if not (3, 11) <= sys.version_info[:2] <= (3, 12):
        return False
    ins, k = _instructions(f.f_code, f.f_lasti)
    if k < 0:
        return False
    i = ins[k]
    if i.opname == "CALL":
        pos = i.arg
    elif i.opname == "CALL_FUNCTION_EX":
        pos = 1 + (i.arg & 1)
    else:
        return False
    b, a = _pusher(ins, k, pos), _pusher(ins, k, pos + 1)
    if b is None or a is None:
        return False
    fn = _MISSING
    if a[0] == b[0]:           # (one instruction pushed both: a global with its NULL, or a method)
        j = a[0]
        if ins[j].opname == "LOAD_GLOBAL":
            fn = _loaded(f, ins, b)
        elif ins[j].opname == "LOAD_METHOD" or (ins[j].opname == "LOAD_ATTR" and ins[j].arg & 1):
            obj = _loaded(f, ins, _pusher(ins, j, 0))
            if obj is not _MISSING:
                fn = _attribute(obj, ins[j].argval)
    elif ins[a[0]].opname == "PUSH_NULL" and a[1] == 0:
        if ins[b[0]].opname == "LOAD_ATTR" and not (sys.version_info >= (3, 12) and ins[b[0]].arg & 1):
            obj = _loaded(f, ins, _pusher(ins, b[0], 0))
            if obj is not _MISSING and b[1] == 0:
                fn = _attribute(obj, ins[b[0]].argval)
        else:
            fn = _loaded(f, ins, b)
    if fn is _MISSING:
        return False
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    if getattr(fn, "__code__", None) is inner.f_code:
        return True
    if inner.f_code.co_filename.startswith(_PKG_DIR):     # (into plugtorch: a module's __call__, say)
        from plugtorch.nn.modules.module import Module
        return isinstance(fn, Module) or getattr(getattr(fn, "__code__", None), "co_filename", "").startswith(_PKG_DIR)
    return False


def _rest_returns(code, lasti) -> bool:
    import dis
    ins, k0 = _instructions(code, lasti)
    at = {i.offset: k for k, i in enumerate(ins)}
    if k0 < 0 or ins[k0].opname not in _CALL_OPS and ins[k0].opname != "CALL_FUNCTION_EX":
        return False
    # (3.11+: a try block around the code; 3.10 shows one by a POP_BLOCK, not allowed. A with
    # block's cleanup, which only calls __exit__, is not one: the hook sees that call)
    blocks = [(e.start, e.end) for e in getattr(dis.Bytecode(code), "exception_entries", ())
              if not _with_cleanup(ins, at.get(e.target))]
    if any(a <= lasti <= b for a, b in blocks):
        return False
    seen, todo = {k0}, [k0 + 1]
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.add(k)
        if k >= len(ins):
            return False
        i = ins[k]
        if any(a <= i.offset <= b for a, b in blocks):
            return False
        name = i.opname
        if name in _CALL_OPS and _with_exit(ins, k):     # (__exit__(None, None, None): the hook sees it)
            todo.append(k + 1)
            continue
        if name in _CALL_OPS:      # only ``.item()``: LOAD_METHOD/LOAD_ATTR item, [PRECALL 0], CALL 0
            j = k - 1
            if j >= 0 and ins[j].opname == "PRECALL" and ins[j].arg == 0 and not ins[j].is_jump_target:
                j -= 1
            if i.arg != 0 or i.is_jump_target or j < 0 or ins[j].argval != "item" or \
                    ins[j].opname not in ("LOAD_METHOD", "LOAD_ATTR"):
                return False
            todo.append(k + 1)
            continue
        if name == "PRECALL" and (i.arg == 0 or i.arg == 2 and _with_exit(ins, k + 1)):
            todo.append(k + 1)
            continue
        if name not in _PLAIN_OPS:
            return False
        if name in ("RETURN_VALUE", "RETURN_CONST"):
            continue
        if name.startswith("JUMP"):
            t = at.get(i.argval)
            if t is None:
                return False
            todo.append(t)
            continue
        todo.append(k + 1)
    return True


def _with_cleanup(ins, k) -> bool:
    """Whether ``ins[k]`` starts a with block's exception cleanup (3.11+)."""
    return k is not None and k + 1 < len(ins) and ins[k].opname == "PUSH_EXC_INFO" and \
        ins[k + 1].opname == "WITH_EXCEPT_START"


def _with_exit(ins, k) -> bool:
    """Whether ``ins[k]`` is a with block's normal exit: LOAD_CONST None x3, [PRECALL 2], CALL 2."""
    if k >= len(ins) or ins[k].opname != "CALL" or ins[k].arg != 2 or ins[k].is_jump_target:
        return False
    j = k - 1
    if j >= 0 and ins[j].opname == "PRECALL":
        if ins[j].arg != 2 or ins[j].is_jump_target:
            return False
        j -= 1
    if j < 2:
        return False
    return all(ins[m].opname == "LOAD_CONST" and ins[m].argval is None and (m == j - 2 or not ins[m].is_jump_target)
               for m in (j, j - 1, j - 2))


def plain_numbers(x):
    """``x`` with the read numbers of a trace (``Tracer.read_result``) made plain float/int again."""
    c = x.__class__
    if c is list or c is tuple:
        return c(plain_numbers(y) for y in x)
    if c is dict:
        return {k: plain_numbers(y) for k, y in x.items()}
    for base, sub in _READ_NUMBER.items():
        if c is sub:
            return base(x)
    return x
_GUARDED_READS = frozenset({"item", "bool", "tolist", "float", "int", "complex"})


def _guard_kernel(be, traced):
    """``guard(x)``: whether native array ``x`` holds exactly (bit for bit) the data ``traced``."""
    shape, dtype, raw = traced.shape, traced.dtype, traced.tobytes()

    def guard(x):
        a = be.to_numpy(x)
        return a.shape == shape and a.dtype == dtype and a.tobytes() == raw
    guard.traced = traced
    return guard


_ITEM_KERNELS: dict = {}


def _item_kernel(dev):
    """``item(x)``: the number in the 0-d native array ``x`` of ``dev``'s backend, as ``Tensor.item``
    gives it (one function per backend, so common-subexpression elimination merges equal reads)."""
    be = dev._backend
    k = _ITEM_KERNELS.get(id(be))
    if k is None:
        def item(x):
            return be.to_numpy(x).reshape(()).item()
        k = _ITEM_KERNELS[id(be)] = item
    return k


def _check_kernel(dev, exc_type, message):
    be = dev._backend

    def check(flag):
        if be.to_numpy(flag).reshape(()).item():
            raise exc_type(message)
    return check


def _saved_tensors(x, depth=0):
    """Tensors an autograd node keeps (saved arguments, SavedTensor results), at any nesting."""
    if depth > 4 or x is None:
        return
    if isinstance(x, Tensor):
        yield x
    elif isinstance(x, (list, tuple)):
        for y in x:
            yield from _saved_tensors(y, depth + 1)
    else:
        d = getattr(x, "data", None)     # a SavedTensor
        if isinstance(d, Tensor):
            yield d


def _is_dtype(x) -> bool:
    return x.__class__.__name__ == "dtype"


def _tensors_in(r):
    if isinstance(r, Tensor):
        yield r
    elif isinstance(r, (list, tuple)):
        for x in r:
            yield from _tensors_in(x)
    elif isinstance(r, dict):
        for x in r.values():
            yield from _tensors_in(x)


def flatten_tensors(args, kwargs=None):
    """The tensors in ``args`` (and ``kwargs``) in order, and a spec rebuilding the structure."""
    out = []

    def walk(a):
        if isinstance(a, Tensor):
            out.append(a)
            return ("T", len(out) - 1)
        if isinstance(a, (list, tuple)):
            return ("L" if isinstance(a, list) else "U", [walk(x) for x in a])
        if isinstance(a, dict):
            return ("D", {k: walk(x) for k, x in a.items()})
        return ("C", a)
    spec = (walk(list(args)), walk(dict(kwargs or {})))
    return out, spec


def rebuild(spec, tensors):
    kind, payload = spec
    if kind == "T":
        return tensors[payload]
    if kind == "L":
        return [rebuild(s, tensors) for s in payload]
    if kind == "U":
        return tuple(rebuild(s, tensors) for s in payload)
    if kind == "D":
        return {k: rebuild(s, tensors) for k, s in payload.items()}
    return payload


__all__ = ["Tracer", "TracerWarning", "flatten_tensors", "rebuild", "substitute", "source_site"]
