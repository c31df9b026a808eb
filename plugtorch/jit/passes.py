"""Passes over a graph's kernel-level nodes, each a small function ``pass(graph) -> int`` (the
number of changes it made), run in order by ``optimize``.

* ``functionalize``: a ``copy_`` into a value becomes that value's new SSA name (later reads read
  the source); copies into inputs and captured tensors move to the end of the graph, the only
  writes left.
* ``eliminate_common_subexpressions``: two pure kernel calls with the same arguments become one.
* ``fold_constants``: pure kernel calls on constants only (factories: ``full``, ``arange`` ...)
  run once, when the graph is built.
* ``eliminate_dead_code``: kernel calls whose results nothing reads go (writes and random ops stay:
  they change state the program sees).
* ``fuse_pointwise``: chains of pointwise kernel calls are offered to the device's backend as one
  ``PointwiseGroup`` (backends/fusion.py); a backend that declines leaves them as they are.
* ``absorb_copies``: a copy back into an input or a captured tensor of a fused kernel's result is
  written by the kernel itself where the backend offers it (``fused_into``): one launch, not two.
* ``pair_kernels``: two calls that would repeat each other's work on the same arrays (the loss
  and its backward in a training step) are offered to the backend as one (``fuse_pair``).

The executor's memory plan (each value freed after its last use) is in executor.py.
"""
from __future__ import annotations

from plugtorch.backends.fusion import IN, STEP, Input, PointwiseGroup, Ref, Step
from plugtorch.dispatch.registry import OUT_MULTI, OUT_TENSOR, OUT_VIEW
from plugtorch.jit.ir import CAPTURE, CONST, INPUT, NODE, Node, Value, substitute, values_in


def _written_roots(graph) -> set:
    return {w.root.index for n in graph.nodes for w in n.writes}


def _replace_reads(nodes, old, new):
    """Nodes in ``nodes`` read ``new`` where they read ``old``."""
    renames = {old.index: new}
    for n in nodes:
        _rename_reads(n, renames)


def _rename_reads(n, renames):
    """Node ``n`` reads ``renames[v.index]`` where it reads a value ``v`` renamed."""
    def swap(v):
        return renames.get(v.index, v)
    if n.kargs is not None:
        n.kargs = substitute(n.kargs, swap)
    n.run_args = substitute(n.run_args, swap)
    n.run_kwargs = substitute(n.run_kwargs, swap)
    n.writes = [renames.get(w.index, w) for w in n.writes]


def _has_views(graph, v) -> bool:
    return any(u is not v and u.root is v for u in graph.values)


# ---- functionalization ------------------------------------------------------------------------
def functionalize(graph) -> int:
    """Turn ``copy_(dst, src)`` (same shape, dtype and device, dst not a view and viewed by nothing)
    into a rename: later reads of dst read src. A copy into an input or a captured tensor is kept,
    moved to the end of the graph (only the last one into each)."""
    nodes = graph.nodes
    changed = 0
    final_copies = {}     # dst index -> (dst, src, node)
    renamed = {}          # value index -> the value later nodes read instead
    i = 0
    while i < len(nodes):
        n = nodes[i]
        if n.op.name != "copy_" or n.kargs is None or len(n.kargs) != 2:
            i += 1
            continue
        dst, src = n.kargs
        if not (isinstance(dst, Value) and isinstance(src, Value)) or dst.root is not dst \
                or dst.shape != src.shape or dst.dtype is not src.dtype or dst.device != src.device \
                or _has_views(graph, dst) or dst.kind == CONST:
            i += 1
            continue
        later = nodes[i + 1:]
        if any(w.root is src.root for m in later for w in m.writes) or src.root is not src and any(
                w.root is src.root for m in nodes for w in m.writes):
            i += 1
            continue
        # a returned dst stays its own tensor, as eager's: renamed to an input, a captured tensor,
        # a constant, a view or another output, the call returned that tensor itself (a write
        # into the result wrote the input, or the same captured 7 came back from every call)
        if dst.kind not in (INPUT, CAPTURE) and any(v is dst for v in values_in(graph.outputs)) and (
                src.kind != NODE or src.root is not src or any(v is src for v in values_in(graph.outputs))):
            i += 1
            continue
        # the rename holds up to the next write into dst: a later copy_ into dst is a write (it
        # stays a copy into dst, its own rename), not a read of dst (renamed, it wrote into src:
        # `a.copy_(b); a.copy_(b * 2)` wrote b * 2 into the input b); another in-place write
        # into dst needs dst's array to hold the copy
        end = next((j for j, m in enumerate(later) if any(w.root is dst for w in m.writes)), None)
        if end is not None and not (later[end].op.name == "copy_" and later[end].kargs is not None
                                    and later[end].kargs[0] is dst and later[end].writes == [dst]):
            i += 1
            continue
        del nodes[i]
        if end is None:
            _replace_reads(later, dst, src)
        else:
            _replace_reads(later[:end], dst, src)
            nxt = later[end]
            nxt.kargs = (dst,) + tuple(substitute(nxt.kargs[1:], lambda v, d=dst, s=src: s if v is d else v))
            nxt.run_args = substitute(nxt.run_args, lambda v, d=dst, s=src: s if v is d else v)
            nxt.run_kwargs = substitute(nxt.run_kwargs, lambda v, d=dst, s=src: s if v is d else v)
            if nxt.run_args and isinstance(nxt.run_args, tuple) and nxt.run_args[0] is src:
                nxt.run_args = (dst,) + nxt.run_args[1:]
            # the copy is overwritten whole before anything reads dst's array again
            changed += 1
            continue
        renamed[dst.index] = src
        if dst.kind in (INPUT, CAPTURE):
            final_copies[dst.index] = (dst, src, n)
        else:
            graph.outputs = substitute(graph.outputs, lambda v, d=dst, s=src: s if v is d else v)
            if dst.index in graph.output_history:
                graph.output_history[src.index] = graph.output_history[dst.index]
            graph.grad_bindings = [(t, src if g is dst else g) for t, g in graph.grad_bindings]
        changed += 1
    for dst, src, n in final_copies.values():
        while src.index in renamed and renamed[src.index] is not src:
            src = renamed[src.index]
        n.kargs = (dst, src)
        n.writes = [dst]
        nodes.append(n)
    # the graph's outputs that are an input or captured tensor written at the end stay that tensor
    return changed


# ---- common subexpressions -----------------------------------------------------------------
def _key_of(t):
    c = t.__class__
    if c is Value:
        return ("v", t.index)
    if c in (list, tuple):
        return (c.__name__,) + tuple(_key_of(x) for x in t)
    if c is float:      # (by its bits' text: -0.0 == 0.0, and x * -0.0 is not x * 0.0)
        return ("float", t.hex())
    if c in (int, bool, str, type(None)):
        return (c.__name__, t)
    return ("id", id(t))


def eliminate_common_subexpressions(graph) -> int:
    written = _written_roots(graph)
    # a graph output stays its own value: eager returns distinct tensors for two equal calls
    # (split of an empty tensor: two equal slices), and a replay returning one tensor twice
    # differs (autograd.grad over both of them, an in-place write into one)
    returned = {v.index for v in values_in(graph.outputs)}
    seen = {}
    changed = 0
    keep = []
    # merged values, renamed in each later node as it is reached (one pass: renaming all the
    # later nodes at each merge made the pass quadratic: most of an LSTM's tracing time)
    renames = {}
    for n in graph.nodes:
        if renames:
            _rename_reads(n, renames)
        pure = (n.kargs is not None and not n.effectful and n.fused is None
                and n.op.out_kind in (OUT_TENSOR, OUT_VIEW, OUT_MULTI)
                and not any(v.root.index in written for v in n.inputs())
                and not any(o is not None and o.root.index in written for o in n.outs))
        if pure:
            key = (n.op.name, id(n.kernel), _key_of(n.kargs))
            prev = seen.get(key)
            if prev is not None and not any(o is not None and o.index in returned for o in n.outs):
                for old, new in zip(n.outs, prev.outs):
                    if old is not None and new is not None:
                        renames[old.index] = new
                changed += 1
                continue
            seen[key] = n
        keep.append(n)
    graph.nodes[:] = keep
    if renames:
        graph.grad_bindings = [(t, renames.get(g.index, g) if g is not None else None) for t, g in graph.grad_bindings]
    return changed


# ---- constants ---------------------------------------------------------------------------------
def fold_constants(graph) -> int:
    written = _written_roots(graph)
    # (a returned view's base too: folded, every call returned a view of the one constant array,
    # so a write into one result showed in the next call's)
    outs = {v.index for v in graph.output_values()} | {v.root.index for v in graph.output_values()}
    changed = 0
    keep = []
    for n in graph.nodes:
        ins = n.inputs()
        if (n.kargs is not None and not n.effectful and n.fused is None and n.op.out_kind == OUT_TENSOR
                and "nondeterministic" not in n.op.tags
                and all(v.kind == CONST for v in ins)
                and all(o is not None and o.index not in outs and o.root.index not in written for o in n.outs)):
            args = substitute(n.kargs, lambda v: v.array)
            res = n.kernel(*args)
            o = n.outs[0]
            o.kind = CONST
            o.array = res
            o.producer = None
            changed += 1
            continue
        keep.append(n)
    graph.nodes[:] = keep
    return changed


# ---- dead code -----------------------------------------------------------------------------------
def eliminate_dead_code(graph) -> int:
    live = set()
    for v in graph.output_values():
        live.add(v.index)
        live.add(v.root.index)
    for t, _ in graph.grad_bindings:
        if isinstance(t, Value):
            live.add(t.index)
    keep = []
    for n in reversed(graph.nodes):
        if n.effectful or any(o is not None and o.index in live for o in n.outs):
            keep.append(n)
            for v in n.inputs():
                live.add(v.index)
                live.add(v.root.index)
    removed = len(graph.nodes) - len(keep)
    keep.reverse()
    graph.nodes[:] = keep
    return removed


# ---- fusion ------------------------------------------------------------------------------------------
_CASTS = frozenset({"_to_dtype"})   # elementwise, not tagged pointwise (a mask made a float to sum)


def _fusible(n) -> bool:
    # (a value on another device: a number read from a 0-d cpu tensor at each call, which the
    # kernel takes as a scalar argument)
    return (n.kargs is not None and n.fused is None and n.op.out_kind == OUT_TENSOR and not n.effectful
            and ("pointwise" in n.op.tags or n.op.name in _CASTS) and n.outs and n.outs[0] is not None
            and all(v.device == n.device for v in n.inputs()))


JOIN_STEPS = 16


def fuse_pointwise(graph) -> int:
    """Offer each maximal run of pointwise kernel calls of one shape and device (two or more, each
    reading the group's values or not) to the backend; replace the run by the fused call it returns."""
    nodes = graph.nodes
    needed_after = {}        # value index -> the nodes reading it
    for n in nodes:
        for v in n.inputs():
            needed_after.setdefault(v.index, []).append(n)
    outs = {v.index for v in graph.output_values()} | {v.root.index for v in graph.output_values()}
    result = []
    group = []
    members = set()
    pending = []          # pure nodes reading the open group's values: they run after it
    pending_vals = set()
    fused = 0

    def flush():
        nonlocal group, members, pending, pending_vals, fused
        node = None
        if len(group) >= 2:
            node = _make_fused(graph, group, members, needed_after, outs, position=len(result))
        if node is not None:
            result.append(node)
            fused += 1
        else:
            result.extend(group)
        result.extend(pending)
        group, members, pending, pending_vals = [], set(), [], set()

    for n in nodes:
        reads = {v.index for v in n.inputs()}
        if _fusible(n):
            out = n.outs[0]
            if group:
                g0 = group[0]
                if reads & pending_vals:   # (it reads a node that runs after the group: a new group)
                    flush()
                # (a node of the same shape that reads none of the group's values joins it too, up
                # to JOIN_STEPS steps: the independent updates of an optimizer step, a bound check's
                # comparisons, become one kernel instead of one each, and a model's many equal-shaped
                # parameters do not become one kernel with hundreds of arguments)
                elif out.shape != g0.outs[0].shape or n.device != g0.device \
                        or (len(group) >= JOIN_STEPS and not (reads & members)):
                    flush()
            group.append(n)
            members.add(out.index)
            continue
        if group and (reads & (members | pending_vals)):
            if n.effectful:
                flush()
            else:
                pending.append(n)
                pending_vals.update(o.index for o in n.outs if o is not None)
                continue
        elif group and n.effectful:
            flush()
        if group and pending:
            pending.append(n)       # keep the order of the nodes after the group
            pending_vals.update(o.index for o in n.outs if o is not None)
            continue
        result.append(n)
    flush()
    graph.nodes[:] = result
    return fused


def _make_fused(graph, group, members, needed_after, outs, position):
    shape = group[0].outs[0].shape
    inputs, in_index = [], {}
    steps = []
    step_of = {}

    def ref(v):
        if v.index in step_of:
            return Ref(STEP, step_of[v.index])
        k = in_index.get(v.index)
        if k is None:
            k = in_index[v.index] = len(inputs)
            inputs.append(v)
        return Ref(IN, k)

    for j, n in enumerate(group):
        kargs = substitute(n.kargs, ref)
        o = n.outs[0]
        steps.append(Step(n.op.name, kargs, tuple(o.shape), o.dtype))
        step_of[o.index] = j
    ids = {id(n) for n in group}
    out_steps = []
    for j, n in enumerate(group):
        o = n.outs[0]
        if o.index in outs or any(id(r) not in ids for r in needed_after.get(o.index, ())):
            out_steps.append(j)
    if not out_steps:
        return None
    pg = PointwiseGroup(tuple(Input(tuple(v.shape), v.dtype) for v in inputs), tuple(steps),
                        tuple(out_steps), tuple(shape))
    dev = group[0].device
    be = dev._backend
    if be is None:
        return None
    fn = be.fuse_pointwise(pg, dev.index or 0)
    if fn is None:
        return None
    node = Node(group[-1].op, dev, fn, tuple(inputs), [group[j].outs[0] for j in out_steps], [], None, None,
                None)
    node.fused = pg
    for o in node.outs:
        o.producer = node
    return node


# ---- copies back, written by the fused kernel ---------------------------------------------------------
class _Into:
    """A fused kernel called with its destinations as extra arguments: ``f(*inputs, *dsts)`` runs
    ``into([dst of each output or None], *inputs)``."""

    __slots__ = ("into", "n_in", "slots", "n_out")

    def __init__(self, into, n_in, slots, n_out):
        self.into, self.n_in, self.slots, self.n_out = into, n_in, slots, n_out

    def __call__(self, *args):
        n = self.n_in
        dsts = [None] * self.n_out
        for k, j in enumerate(self.slots):
            dsts[j] = args[n + k]
        return self.into(dsts, *args[:n])


def absorb_copies(graph) -> int:
    """``copy_(dst, r)`` where ``r`` is a fused kernel's result read by nothing else, ``dst`` an input
    or a captured tensor (not a view) of ``r``'s shape and dtype that no node between the two reads
    or writes, and the kernel reads ``dst`` only as itself (never a view of it, which a work-item
    could read after another wrote it): the kernel writes ``r`` into ``dst`` and the copy goes."""
    nodes = graph.nodes
    readers = {}
    for n in nodes:
        for v in n.inputs():
            readers.setdefault(v.index, []).append(n)
    keep = {v.index for v in graph.output_values()} | {v.root.index for v in graph.output_values()}
    keep |= {gv.index for _, gv in graph.grad_bindings if gv is not None}
    pos = {id(n): i for i, n in enumerate(nodes)}
    plans = {}           # id(fused node) -> [(output index, dst Value)]
    gone = set()
    for i, n in enumerate(nodes):
        if n.op.name != "copy_" or n.fused is not None or n.kargs is None or len(n.kargs) != 2:
            continue
        dst, src = n.kargs
        if dst.__class__ is not Value or src.__class__ is not Value or src.kind != NODE:
            continue
        f = src.producer
        if f is None or f.fused is None or id(f) not in pos or src.index in keep \
                or len(readers.get(src.index, ())) != 1:
            continue
        if dst.kind not in (INPUT, CAPTURE) or dst.root is not dst or dst.shape != src.shape \
                or dst.dtype != src.dtype or dst.device != src.device or list(n.writes) != [dst]:
            continue
        start = pos[id(f)]
        if any(v.root is dst and v is not dst for v in f.inputs()):
            continue
        between = nodes[start + 1:i]
        if any(w.root is dst for m in between for w in m.writes) \
                or any(v.root is dst for m in between for v in m.inputs()):
            continue
        plan = plans.setdefault(id(f), [])
        if any(d is dst for _, d in plan):
            continue
        be = f.device._backend
        offer = getattr(be, "fused_into", None) if be is not None else None
        into = offer(f.kernel) if offer is not None else None
        if into is None:
            continue
        plan.append((f.outs.index(src), dst))
        gone.add(id(n))
    if not gone:
        return 0
    for n in nodes:
        plan = plans.get(id(n))
        if plan:
            into = n.device._backend.fused_into(n.kernel)
            n.kernel = _Into(into, len(n.kargs), tuple(j for j, _ in plan), len(n.outs))
            n.kargs = tuple(n.kargs) + tuple(d for _, d in plan)
            n.writes = list(n.writes) + [d for _, d in plan]
    graph.nodes[:] = [n for n in nodes if id(n) not in gone]
    return len(gone)


# ---- pairs ------------------------------------------------------------------------------------------
def _ce_backward_matches(first, second) -> bool:
    # _cross_entropy_backward(g, x, t, w, ignore_index, reduction, ls) of
    # cross_entropy(x, t, w, ignore_index, reduction, ls, dtype)
    a, b = first.kargs[:6], second.kargs[1:7]
    return len(second.kargs) == 7 and all(x is y if x.__class__ is Value or y.__class__ is Value
                                          else (x.__class__ is y.__class__ and x == y) for x, y in zip(a, b))


# first op -> (second op, whether a call of the second repeats the first's arrays and options)
PAIRS = {"cross_entropy": ("_cross_entropy_backward", _ce_backward_matches)}


def pair_kernels(graph) -> int:
    """Offer each call of a ``PAIRS`` op with a later call of its partner on the same arrays to
    the backend (``Backend.fuse_pair``); the kernel it returns runs both where the first ran. The
    second call's arrays must all exist there and nothing in between may write them."""
    nodes = graph.nodes
    pos = {id(n): i for i, n in enumerate(nodes)}
    done = 0
    for i, first in enumerate(nodes):
        if first is None or first.kargs is None or first.fused is not None or first.op.name not in PAIRS:
            continue
        name2, matches = PAIRS[first.op.name]
        for j in range(i + 1, len(nodes)):
            second = nodes[j]
            if second is None or second.writes:
                break
            if second.op.name != name2 or second.kargs is None or second.device is not first.device \
                    or not matches(first, second):
                continue
            if any(v.kind == NODE and pos.get(id(v.producer), len(nodes)) >= i for v in second.inputs()):
                break
            be = first.device._backend
            offer = getattr(be, "fuse_pair", None)   # (a duck-typed plug-in may not have it)
            fn = offer(first.op.name, name2, first.device.index or 0) if offer is not None else None
            if fn is None or first.kernel is not be.kernels.get(first.op.name) \
                    or second.kernel is not be.kernels.get(name2):
                break
            node = Node(first.op, first.device, fn, tuple(first.kargs) + tuple(second.kargs),
                        [first.outs[0], second.outs[0]], [], first.run_args, first.run_kwargs, first.parent)
            node.out_dtypes = "tuple"
            node.paired = second.op
            for o in node.outs:
                o.producer = node
            nodes[i], nodes[j] = node, None
            done += 1
            break
    graph.nodes[:] = [n for n in nodes if n is not None]
    return done


PASSES = [functionalize, eliminate_common_subexpressions, fold_constants, eliminate_dead_code, fuse_pointwise,
          absorb_copies, pair_kernels]


def optimize(graph, passes=None) -> dict:
    """Run ``passes`` (default: all, in order) over ``graph``; returns pass name -> changes."""
    stats = {}
    for p in (PASSES if passes is None else passes):
        stats[p.__name__] = p(graph)
    return stats
