"""The executor: a graph's kernel-level nodes as one generated Python function.

Each node becomes one line calling its pre-resolved kernel on native arrays (no dispatcher,
meta, promotion or autograd per op); values die after their last use (the memory plan); the
guard check (inputs' and captured tensors' device, dtype, shape and strides) runs once per call.
The source is generated from the validated IR only: op kernels and constants are bound as
names, never written into the text, so nothing from a loaded file becomes code.
"""
from __future__ import annotations

import functools

import numpy as np

from plugtorch._tensor import Tensor
from plugtorch.dispatch import dispatcher as D
from plugtorch.dispatch.fpstate import quietly, strict
from plugtorch.dispatch.registry import OUT_INPLACE, OUT_MULTI, OUT_RAW, OUT_TENSOR, OUT_VIEW
from plugtorch.jit.ir import CAPTURE, CONST, GRAD, INPUT, NODE, Read, Struct, Value, substitute, values_in

_wrap = Tensor._wrap


class GuardFailure(RuntimeError):
    """A call's tensors differ from those the graph was traced with."""


class InputsAlias(RuntimeError):
    """Two inputs of a call share memory (or an input shares a captured tensor's the graph writes)
    where the graph, traced on separate tensors, writes into one: its functionalized writes would
    not reach the other's reads (``args[0]``: the positions, -1 for a captured tensor)."""


def input_aliasing(graph):
    """A function ``aliased(tensors) -> (i, j) or None`` for a graph that writes into an input or a
    captured tensor, else None. Tensors share memory when one is the other or they share the
    version counter (views, ``detach()``)."""
    written = {id(w.root): w.root for n in graph.nodes for w in n.writes if w.root.kind in (INPUT, CAPTURE)}
    if not written:
        return None
    caps = [v.tensor for v in written.values() if v.kind == CAPTURE]
    if len(graph.inputs) < 2 and not (caps and graph.inputs):
        return None
    positions = [v.pos for v in graph.inputs]

    cap_ids = frozenset(map(id, caps))
    # the captured tensors' version counters (made once per tensor, then kept: a tensor without
    # one has never been viewed or detached, so only the same tensor can share its memory)
    state = {"vcs": frozenset(), "pending": list(caps)}

    def cap_vcs():
        if state["pending"]:
            state["vcs"] = frozenset(id(c._vc) for c in caps if c._vc is not None)
            state["pending"] = [c for c in caps if c._vc is None]
        return state["vcs"]

    def aliased(ts):
        seen = {}
        vcs = cap_vcs() if caps else ()
        for pos in positions:
            t = ts[pos]
            vc = t._vc
            k = id(vc) if vc is not None else id(t)
            if k in seen:
                return seen[k], pos
            seen[k] = pos
            if k in vcs or id(t) in cap_ids:
                return pos, -1
        return None
    return aliased


class DataMiss(RuntimeError):
    """A replay stopped where the data differs from the traced data in a way the graph is
    specialised on (``args[0]`` says where and how); it has written nothing it cannot undo."""


class ShapeMiss(DataMiss):
    """An op whose result's shape depends on the data (``nonzero``, the ``dynamic_shape`` tag) gave
    another shape than when traced: the graph's later kernels, views and fused kernels are
    specialised on the traced shape."""


class ValueMiss(DataMiss):
    """A tensor Python read while tracing (``item()``, ``bool()``, ``tolist()``) holds other data:
    the Python after the read followed the traced data."""


def _is_dynamic(n) -> bool:
    return "dynamic_shape" in n.op.tags or (n.paired is not None and "dynamic_shape" in n.paired.tags)


def _is_guard(n) -> bool:
    return "guard" in n.op.tags


def _is_stop(n) -> bool:
    return _is_guard(n) or _is_dynamic(n)


def _shown(a) -> str:
    return str(a.tolist()) if a.size <= 8 else f"an array of shape {list(a.shape)}"


def value_miss_message(why, site, now, traced) -> str:
    return (f"the tensor Python read while tracing ({why}() at {site or 'unknown'}) holds {_shown(now)} where "
            f"the trace read {_shown(traced)}: the graph follows what the Python after that read did with "
            f"the traced data")


def _site(n) -> str:
    call = n.parent
    site = getattr(call, "site", "") if call is not None else ""
    return f" (at {site})" if site else ""


def shape_miss_message(op_name, site, got, traced) -> str:
    return (f"{op_name}{site} returned shape {list(got)} where the graph was traced with {list(traced)}: its "
            f"result's shape depends on the data, and the ops after it are specialised on the traced shape")


def abort_hazard(graph):
    """Before the graph's first data-dependent shape or guard: (the first node writing into a tensor the call
    does not own (an input, a captured tensor, a .grad) -- a replay stopped at the shape could not
    undo it -- or None, the random nodes (their generators are restored when a replay stops))."""
    first = next((i for i, n in enumerate(graph.nodes) if _is_stop(n)), None)
    if first is None:
        return None, []
    randoms = []
    for n in graph.nodes[:first]:
        for w in n.writes:
            if w.root.kind in (INPUT, CAPTURE, GRAD):
                return f"{n.name}{_site(n)} writes into {w.root.name}", []
        if "random" in n.op.tags:
            randoms.append(n)
    return None, randoms


def op_level_hazard(graph):
    """``abort_hazard`` for a replay through autograd (``run_with_autograd``), which runs the op-level
    calls in program order (functionalization moved no write): the first call before the first
    guard or data-dependent shape that writes into a tensor the call does not own, or None."""
    first = len(graph.ops)
    for why, site, pos, *_ in graph.guards:
        if pos is not None:
            first = min(first, pos)
    for k, call in enumerate(graph.ops[:first]):
        if "dynamic_shape" in call.op.tags:
            break
        for n in call.nodes:
            for w in n.writes:
                if w.root.kind in (INPUT, CAPTURE, GRAD):
                    site = f" (at {call.site})" if call.site else ""
                    return f"{call.op.name}{site} writes into {w.root.name}"
    return None


def _generators(randoms):
    """A function returning the (generator, state) of every generator the random nodes draw from."""
    from plugtorch.random import Generator, default_generator_for
    explicit, devices = [], []
    for n in randoms:
        found = []
        _collect_generators((n.run_args, n.run_kwargs, n.kargs), found, Generator)
        explicit += [g for g in found if all(g is not h for h in explicit)]
        if not found and n.device not in devices:
            devices.append(n.device)

    def snapshot():
        gens = explicit + [default_generator_for(d) for d in devices]
        return [(g, g.get_state()) for g in gens]
    return snapshot


def _collect_generators(x, out, cls):
    if isinstance(x, cls):
        out.append(x)
    elif isinstance(x, (list, tuple)):
        for y in x:
            _collect_generators(y, out, cls)
    elif isinstance(x, dict):
        for y in x.values():
            _collect_generators(y, out, cls)


def describe(t) -> str:
    if not isinstance(t, Tensor):
        return f"a {type(t).__name__}"
    return (f"{str(t._dtype).replace('plugtorch.', '')}{list(t._data.shape)} on {t._device} "
            f"(strides {tuple(t.stride())})")


def _describe_value(v, strides) -> str:
    return f"{str(v.dtype).replace('plugtorch.', '')}{list(v.shape)} on {v.device} (strides {strides})"


def _strides(t) -> tuple:
    return tuple(t._device._backend.strides(t._data)) if t._device._backend is not None else tuple(t.stride())


def last_uses(graph) -> dict:
    """Value index -> index of the last node reading it."""
    last = {}
    for i, n in enumerate(graph.nodes):
        for v in n.inputs():
            last[v.index] = i
    return last


def device_kernels_only(graph) -> bool:
    """Whether every node of ``graph`` runs a device backend's own kernel (a fused kernel, whose
    scalars are converted once when it is built, or the one its table registered, given no
    float scalar), none on cpu: then no NumPy floating-point warning can come out of a replay (a
    cpu kernel, the CPU fallback, a call through the dispatcher or a float scalar cast to float32
    could raise one)."""
    from plugtorch.backends import get_backend
    for n in graph.nodes:
        dev = n.device
        if dev is None or dev.type == "cpu" or n.kargs is None:
            return False
        if n.fused is None and (get_backend(dev.type).kernels.get(n.op.name) is not n.kernel
                                or _has_float(n.kargs)):
            return False
    return True


def _has_float(args) -> bool:
    for a in args:
        if a.__class__ in (list, tuple):
            if _has_float(a):
                return True
        elif isinstance(a, (float, complex, np.inexact)):
            return True
    return False


def one_kernel(graph):
    """For a graph that is one fused kernel on device arrays, which a backend can run behind the
    graph's guards without Python (``Backend.guarded_call``, docs/backends.md): a dict holding the
    kernel, each input's device, dtype, shape and native strides (in input order, every input
    guarded that way), the input position of each kernel argument, and the output's dtype and
    device. None for any other graph: captured tensors, writes, .grad bindings, data-dependent
    stops, constants, an output that is not the kernel's one result, or a kernel that may warn
    (``device_kernels_only``)."""
    g = graph
    if len(g.nodes) != 1 or g.captures or g.grad_guards or g.grad_bindings:
        return None
    n = g.nodes[0]
    out = g.outputs
    if (n.fused is None or n.writes or _is_stop(n) or n.kargs is None or len(n.outs) != 1
            or out.__class__ is not Value or out is not n.outs[0] or not device_kernels_only(g)):
        return None
    ins = sorted(g.inputs, key=lambda v: v.pos)
    if [v.pos for v in ins] != list(range(len(ins))) or any(v.native_strides is None for v in ins):
        return None
    if any(a.__class__ is not Value or a.kind != INPUT for a in n.kargs):
        return None
    return {"kernel": n.kernel, "device": n.device, "devices": [v.device for v in ins],
            "dtypes": [v.dtype for v in ins], "shapes": [tuple(v.shape) for v in ins],
            "strides": [v.native_strides for v in ins], "kargs": [a.pos for a in n.kargs],
            "out_dtype": out.dtype, "out_device": out.device}


class Executable:
    """A graph ready to run: ``run(tensors)`` replays it on the flattened input tensors."""

    def __init__(self, graph, name="graph", guard_errors=True, rg_guard=None):
        self.graph = graph
        self.name = name
        # whether a replay checks that each captured tensor still requires grad as when traced
        # (a graph that ran backward computed and applied exactly those gradients)
        self.rg_guard = graph.backward_ran if rg_guard is None else rg_guard
        self.guard_errors = guard_errors
        self.input_strides = {}
        self.source = None
        self._fn = None
        self._build()

    # --- code generation -------------------------------------------------------------------
    def _build(self):
        g = self.graph
        ns = {"_W": _wrap, "_N": object.__new__, "_guard": self._guard_failed, "Tensor": Tensor,
              "_alias": self._aliased, "_strict": strict, "_quietly": quietly}
        # the kernels write into preallocated buffers and parameters, so one that raised a
        # floating-point warning cannot run again: under a strict warning filter the whole replay
        # runs quietly (dispatch/fpstate.py); a graph of device kernels only raises none (0.1-0.2 us
        # a replay saved: most of a small graph's guard cost)
        lines = ["def replay(ts, _q=False):"]
        if not device_kernels_only(g):
            lines.append("    if not _q and _strict(): return _quietly(replay, ts, True)")
        emit = lines.append
        counter = [0]

        def const(obj):
            counter[0] += 1
            name = f"K{counter[0]}"
            ns[name] = obj
            return name

        for v in g.inputs:
            t = f"t{v.pos}"
            emit(f"    {t} = ts[{v.pos}]")
            dev, dt = const(v.device), const(v.dtype)
            cond = f"{t}._device is not {dev} or {t}._dtype is not {dt} or {t}._data.shape != {const(v.shape)}"
            if getattr(v, "native_strides", None) is not None:   # the array's own strides: one attribute read
                cond += f" or {t}._data.strides != {const(v.native_strides)}"
            elif getattr(v, "strides", None) is not None:
                cond += f" or {const(_strides)}({t}) != {const(v.strides)}"
            emit(f"    if {cond}:")
            emit(f"        _guard({v.pos})")
            same = getattr(v, "same_as", None)
            if same is not None:   # (traced on one tensor passed twice: its uses are one value)
                emit(f"    if {t}._data is not t{same}._data:")
                emit(f"        _guard(('same', {v.pos}, {same}))")
            emit(f"    v{v.index} = {t}._data")
        for v in g.captures:
            if v.kind == CAPTURE:
                c = const(v.tensor)
                emit(f"    v{v.index} = {c}._data")
                rg = f" or {c}._rg is not {bool(v.requires_grad)}" if self.rg_guard else ""
                emit(f"    if {c}._device is not {const(v.device)} or {c}._dtype is not {const(v.dtype)} "
                     f"or v{v.index}.shape != {const(v.shape)}{rg}:")
                emit(f"        _guard(-1 - {v.index})")
            elif v.kind == GRAD:
                owner = self._tensor_expr(v.grad_of, const)
                emit(f"    _g = {owner}._grad")
                emit(f"    if _g is None or _g._data.shape != {const(v.shape)} or _g._dtype is not {const(v.dtype)}:")
                emit(f"        _guard(-1 - {v.index})")
                emit(f"    v{v.index} = _g._data")
        self.aliasing = input_aliasing(g)
        if self.aliasing is not None:
            ind = "    "
            pos = [v.pos for v in g.inputs]
            if len(pos) <= 4:
                # the usual case first, inline: no input ever viewed (no version counter), no two
                # the same tensor, none a tensor the graph writes (then the function cannot find
                # an alias either)
                caps = frozenset(id(v.tensor) for n in g.nodes for w in n.writes
                                 if w.root.kind == CAPTURE for v in (w.root,))
                cond = [f"t{i}._vc is not None" for i in pos]
                cond += [f"t{i} is t{j}" for a, i in enumerate(pos) for j in pos[a + 1:]]
                if caps:
                    c = const(caps)
                    cond += [f"id(t{i}) in {c}" for i in pos]
                emit(f"    if {' or '.join(cond)}:")
                ind = "        "
            emit(f"{ind}_al = {const(self.aliasing)}(ts)")
            emit(f"{ind}if _al is not None:")
            emit(f"{ind}    _alias(_al)")
        for k, (t, none) in enumerate(g.grad_guards):
            emit(f"    if ({self._tensor_expr(t, const)}._grad is None) is not {none}:")
            emit(f"        _guard(('grad', {k}))")
        for v in g.values:
            if v.kind == CONST:
                ns[f"v{v.index}"] = v.array
        # a data-dependent shape is checked where it appears; a replay stopped there has written
        # nothing it cannot undo (abort_hazard), and puts back the generators it drew from
        self.hazard, randoms = abort_hazard(g)
        self.dynamic = any(_is_stop(n) for n in g.nodes)
        snap = ""
        if self.dynamic and randoms:
            emit(f"    _rng = {const(_generators(randoms))}()")
            snap = ", _rng"
        ns["_shape_miss"] = self._shape_missed
        ns["_value_miss"] = self._value_missed

        keep = {v.index for v in g.output_values()}
        keep |= {v.root.index for v in g.output_values()}
        last = last_uses(g)
        dying = {}
        for vi, ni in last.items():
            v = g.values[vi]
            if v.kind == NODE and vi not in keep:
                dying.setdefault(ni, []).append(f"v{vi}")
        produced_unused = []
        for i, n in enumerate(g.nodes):
            if _is_guard(n):
                emit(f"    if not {const(n.kernel)}(v{n.kargs[0].index}):")
                emit(f"        _value_miss({i}, v{n.kargs[0].index}{snap})")
                continue
            emit("    " + self._node_line(n, const))
            if _is_dynamic(n):
                for o in n.outs:
                    if o is not None:
                        emit(f"    if v{o.index}.shape != {const(o.shape)}:")
                        emit(f"        _shape_miss({i}, v{o.index}.shape{snap})")
            for o in n.outs:
                if o is not None and o.index not in last and o.index not in keep:
                    produced_unused.append(f"v{o.index}")
            if produced_unused:
                emit(f"    del {', '.join(produced_unused)}")
                produced_unused = []
            if i in dying:
                emit(f"    del {', '.join(dying[i])}")
        # the tensors the graph wrote into move their version, as eager's in-place ops do (autograd
        # refuses a backward through values saved before the write)
        bumped = {}
        for n in g.nodes:
            for w in n.writes:
                r = w.root
                if r.kind in (INPUT, CAPTURE) and r.index not in bumped:
                    bumped[r.index] = f"t{r.pos}" if r.kind == INPUT else const(r.tensor)
        for owner in bumped.values():     # (Tensor._bump_version, inline)
            emit(f"    _v = {owner}._vc")
            emit("    if _v is None:")
            emit(f"        {owner}._vc = [1]")
            emit("    else:")
            emit("        _v[0] += 1")
        for v, gv in g.grad_bindings:
            target = self._tensor_expr(v, const)
            if gv is None:
                emit(f"    {target}._grad = None")
            else:     # (Tensor._wrap, inline)
                emit("    _o = _N(Tensor)")
                emit(f"    _o._data = v{gv.index}")
                emit(f"    _o._dtype = {const(gv.dtype)}")
                emit(f"    _o._device = {const(gv.device)}")
                emit(f"    {target}._grad = _o")
        # outputs: each value wrapped once (the same tensor twice stays one tensor)
        wrapped = {}

        def out_expr(t):
            c = t.__class__
            if c is Value:
                if t.index in wrapped:
                    return wrapped[t.index]
                if t.kind == INPUT:
                    e = f"t{t.pos}"
                elif t.kind == CAPTURE:
                    e = const(t.tensor)
                elif t.kind == GRAD:
                    e = f"{self._tensor_expr(t.grad_of, const)}._grad"
                else:
                    name = f"o{t.index}"
                    emit(f"    {name} = _N(Tensor)")     # (Tensor._wrap, inline)
                    emit(f"    {name}._data = v{t.index}")
                    emit(f"    {name}._dtype = {const(t.dtype)}")
                    emit(f"    {name}._device = {const(t.device)}")
                    root = t.root
                    if root is not t and root.kind in (INPUT, CAPTURE):
                        # a view of an input or captured tensor shares its version counter, as the
                        # eager view does (a write through it invalidates what autograd saved)
                        owner = f"t{root.pos}" if root.kind == INPUT else const(root.tensor)
                        emit(f"    {name}._vc = {owner}._version_counter()")
                    history = g.output_history.get(t.index)   # (a graph that ran backward: ir.py)
                    if history is not None:
                        emit(f"    {name}._rg = True")
                        emit(f"    {name}.grad_fn = {const(history)}()")
                    e = name
                wrapped[t.index] = e
                return e
            if c is Read:     # (a number the call returned, read again)
                return f"{out_expr(t.value)}.{t.why}()"
            if c is Struct:   # (a namedtuple, an OrderedDict)
                return f"{const(t.build)}({out_expr(t.items)})"
            if c is list:
                return "[" + ", ".join(out_expr(x) for x in t) + "]"
            if c is tuple:
                return "(" + "".join(out_expr(x) + ", " for x in t) + ")"
            if c is dict:
                return "{" + ", ".join(f"{const(k)}: {out_expr(x)}" for k, x in t.items()) + "}"
            return const(t)
        ret = out_expr(g.outputs)
        emit(f"    return {ret}")
        self.source = "\n".join(lines)
        exec(_compiled(self.source, f"<plugtorch.jit {self.name}>"), ns)
        self._fn = ns["replay"]
        self.one_kernel = (one_kernel(g) if self.aliasing is None
                           and not any(getattr(v, "same_as", None) is not None for v in g.inputs) else None)

    def _tensor_expr(self, v, const):
        if v.__class__ is not Value:
            return const(v)       # a tensor the graph did not read, whose .grad it sets
        if v.kind == INPUT:
            return f"ts[{v.pos}]"
        return const(v.tensor)

    def _node_line(self, n, const) -> str:
        outs = n.outs
        if n.fused is not None:
            lhs = ", ".join(f"v{o.index}" for o in outs)
            return f"{lhs}, = {const(n.kernel)}({', '.join(f'v{v.index}' for v in n.kargs)})"
        if n.kargs is not None:
            call = f"{const(n.kernel)}({', '.join(self._arg(a, const) for a in n.kargs)})"
        else:
            call = f"{const(_op_runner(n))}({', '.join(f'v{v.index}' for v in _unique(n.inputs()))})"
        kind = n.op.out_kind
        if n.out_dtypes == "tuple":
            kind = OUT_MULTI
        if kind in (OUT_TENSOR, OUT_VIEW) and not (n.kargs is None and kind == OUT_INPLACE):
            return f"v{outs[0].index} = {call}"
        if kind == OUT_MULTI:
            names = ", ".join(f"v{o.index}" if o is not None else "_" for o in outs)
            return f"{names}, = {call}"
        return call

    def _arg(self, a, const) -> str:
        c = a.__class__
        if c is Value:
            return f"v{a.index}"
        if c is list:
            return "[" + ", ".join(self._arg(x, const) for x in a) + "]"
        if c is tuple:
            if all(x.__class__ is not Value and x.__class__ not in (list, tuple) for x in a):
                return const(a)
            return "(" + "".join(self._arg(x, const) + ", " for x in a) + ")"
        return const(a)

    # --- running -----------------------------------------------------------------------------
    def __call__(self, tensors):
        return self._fn(tensors)

    def _guard_failed(self, pos):
        raise GuardFailure(pos)

    def _aliased(self, pair):
        i, j = pair
        other = f"input {j}" if j >= 0 else "a tensor the graph writes into (a parameter, say)"
        raise InputsAlias(f"input {i} and {other} share memory, and the graph, traced on separate tensors, writes "
                          "into one of them (its writes would not reach the other's reads)")

    def _shape_missed(self, i, shape, rng=None):
        for gen, state in rng or ():
            gen.set_state(state)
        n = self.graph.nodes[i]
        traced = next(o.shape for o in n.outs if o is not None)
        raise ShapeMiss(shape_miss_message(n.name, _site(n), shape, traced))

    def _value_missed(self, i, x, rng=None):
        for gen, state in rng or ():
            gen.set_state(state)
        n = self.graph.nodes[i]
        why, site = n.kernel.read
        raise ValueMiss(value_miss_message(why, site, n.device._backend.to_numpy(x), n.kernel.traced))

    def explain_mismatch(self, pos, tensors) -> str:
        g = self.graph
        if isinstance(pos, tuple) and pos[0] == "same":
            return (f"inputs {pos[2]} and {pos[1]} were one tensor when traced (its uses are one value in "
                    f"the graph) and are two now")
        if isinstance(pos, tuple):
            t, none = g.grad_guards[pos[1]]
            name = t.name if isinstance(t, Value) else f"a tensor of shape {list(t.shape)}"
            return (f"the .grad of {name} was {'None' if none else 'set'} when traced and is "
                    f"{'set' if none else 'None'} now")
        if pos >= 0:
            v = g.inputs[pos]
            t = tensors[pos]
            return (f"input {pos} is {describe(t)} but the graph was traced with "
                    f"{_describe_value(v, getattr(v, 'strides', None))}")
        v = g.values[-1 - pos]
        if v.kind == GRAD:
            return f"the .grad of captured tensor {v.grad_of.name} is not the {v.type_str()} it was when traced"
        t = v.tensor
        if t._rg is not bool(v.requires_grad):
            return (f"captured tensor {v.name} ({v.type_str()}) has requires_grad={t._rg} now, traced with "
                    f"requires_grad={bool(v.requires_grad)}")
        return f"captured tensor {v.name} is now {describe(t)}, traced as {v.type_str()}"


@functools.lru_cache(maxsize=1024)
def _compiled(source, filename):
    """The code object of a generated source: graphs of one structure (an op traced on other
    shapes, a step traced again) share their text, since kernels and constants are names."""
    return compile(source, filename, "exec")


def _unique(vals):
    seen = set()
    out = []
    for v in vals:
        if v.index not in seen:
            seen.add(v.index)
            out.append(v)
    return out


def _op_runner(n):
    """A node run through the dispatcher's ``run`` (below autograd, above the kernel): for
    kernels whose meta function builds arrays itself."""
    op = n.op
    ins = _unique(n.inputs())
    pos = {v.index: k for k, v in enumerate(ins)}
    args_t, kwargs_t = n.run_args, n.run_kwargs
    kind = OUT_MULTI if n.out_dtypes == "tuple" else op.out_kind

    def runner(*arrays):
        def tensor(v):
            return _wrap(arrays[pos[v.index]], v.dtype, v.device)
        args = substitute(args_t, tensor)
        kwargs = substitute(kwargs_t, tensor)
        r = D.run(op, args, kwargs)
        if kind in (OUT_TENSOR, OUT_VIEW):
            return r._data
        if kind == OUT_MULTI:
            return tuple(None if x is None else x._data for x in r)
        return None
    return runner


def _program_checks(graph) -> dict:
    """The argument checks the program's own Python made between op-level calls (``data_check``
    outside any op: embedding_bag's offsets), by the index in ``graph.ops`` of the call after
    them: ``{index: [(flag Value, exception type, message)]}``."""
    checks = {}
    for pos, flag, exc_type, message in graph.checks:
        checks.setdefault(pos, []).append((flag, exc_type, message))
    return checks


def run_with_autograd(graph, tensors):
    """Replay the op-level calls through the dispatcher, so autograd records them (a call whose
    inputs or parameters require grad, outside a graph that holds its own backward)."""
    env = {}
    for v in graph.inputs:
        env[v.index] = tensors[v.pos]
    for v in graph.captures:
        env[v.index] = v.tensor if v.kind == CAPTURE else env_tensor(env, v.grad_of)._grad
    for v in graph.values:
        if v.kind == CONST:
            env[v.index] = _wrap(v.array, v.dtype, v.device)

    def get(v):
        try:
            return env[v.index]
        except KeyError:
            raise RuntimeError(f"plugtorch.jit: value {v!r} is not produced by an op of the graph; "
                               "this graph cannot run with autograd") from None

    guards = {}
    for why, site, pos, v, traced in graph.guards:
        if pos is not None:      # (a read inside an op's code: the op, run again, reads afresh)
            guards.setdefault(pos, []).append((why, site, v, traced))

    snap = getattr(graph, "_rng_snapshot", False)
    if snap is False:     # the generators the random calls before the first stop draw from
        _, randoms = abort_hazard(graph)
        snap = graph._rng_snapshot = _generators(randoms) if randoms else None
    rng = snap() if snap is not None else ()

    def check(pos):
        for why, site, v, traced in guards[pos]:
            t = get(v) if v.index in env else env_tensor(env, v)
            now = t._device._backend.to_numpy(t._data)
            if not (now.shape == traced.shape and now.dtype == traced.dtype and now.tobytes() == traced.tobytes()):
                for gen, state in rng:
                    gen.set_state(state)
                raise ValueMiss(value_miss_message(why, site, now, traced))

    checks = _program_checks(graph)
    for k, call in enumerate(graph.ops):
        if k in guards:
            check(k)
        for flag, exc_type, message in checks.get(k, ()):   # (as eager checked, before the call)
            D.data_check(get(flag), exc_type, message)
        args = substitute(call.args, get)
        kwargs = substitute(call.kwargs, get)
        if call.grad is True:
            res = D.dispatch(call.op, *args, **kwargs)
        else:     # (made under no_grad: an update of a parameter, a running statistic; or under
            # enable_grad() inside a call made under no_grad: tracer.ENABLE_GRAD)
            prev, D.grad_state.enabled = D.grad_state.enabled, bool(call.grad)
            try:
                res = D.dispatch(call.op, *args, **kwargs)
            finally:
                D.grad_state.enabled = prev
        if "dynamic_shape" in call.op.tags:
            try:
                _check_shapes(call, call.outs, res)
            except ShapeMiss:
                for gen, state in rng:
                    gen.set_state(state)
                raise
        _bind_outputs(env, call.outs, res)
    if len(graph.ops) in guards:
        check(len(graph.ops))
    for flag, exc_type, message in checks.get(len(graph.ops), ()):
        D.data_check(get(flag), exc_type, message)
    # what the call left in .grad (zero_grad(set_to_none=True), p.grad = t), as the kernel replay does
    for t, gv in graph.grad_bindings:
        owner = env_tensor(env, t) if t.__class__ is Value else t
        owner._grad = None if gv is None else get(gv)
    return _read_numbers(substitute(graph.outputs, get))


def _read_numbers(t):
    """Outputs with each ``Read`` of a tensor replaced by the number it reads."""
    c = t.__class__
    if c is Read:
        return getattr(t.value, t.why)()
    if c is Struct:
        return t.build(_read_numbers(t.items))
    if c is list or c is tuple:
        return c(_read_numbers(x) for x in t)
    if c is dict:
        return {k: _read_numbers(x) for k, x in t.items()}
    return t



def _check_shapes(call, tpl, res):
    if tpl.__class__ is Struct:
        tpl = tpl.items
        res = tuple(res) if isinstance(res, tuple) else res
    if tpl.__class__ is Value:
        if isinstance(res, Tensor) and tuple(res.shape) != tuple(tpl.shape):
            site = f" (at {call.site})" if call.site else ""
            raise ShapeMiss(shape_miss_message(call.op.name, site, tuple(res.shape), tpl.shape))
    elif tpl.__class__ in (list, tuple) and isinstance(res, (list, tuple)):
        for t, r in zip(tpl, res):
            _check_shapes(call, t, r)


def env_tensor(env, v):
    return env[v.index] if v.index in env else v.tensor


def _bind_outputs(env, tpl, res):
    if tpl.__class__ is Struct:    # (an op returning a namedtuple)
        tpl = tpl.items
        res = tuple(res) if isinstance(res, tuple) else list(res.values()) if isinstance(res, dict) else res
        if tpl.__class__ is dict:
            tpl = list(tpl.values())
    if tpl.__class__ is Value:
        if isinstance(res, Tensor):
            env.setdefault(tpl.index, res) if tpl.kind != NODE else env.__setitem__(tpl.index, res)
    elif tpl.__class__ in (list, tuple) and isinstance(res, (list, tuple)):
        for t, r in zip(tpl, res):
            _bind_outputs(env, t, r)
