"""Recording ops into the graph, and running it backwards.

``record`` runs an op below autograd and attaches an OpNode holding the op's formula;
``run_backward`` runs the nodes reachable from the roots in decreasing creation order (a
topological order, see graph.next_seq), calling each node's formula with plugtorch ops, so
``create_graph=True`` records a graph of the backward pass.

Both are on the hot path of every training step: the per-node work is kept to a few
attribute stores at record time and one formula call plus a shape check at backward time.
"""
from __future__ import annotations

import threading
from heapq import heapify, heappop, heappush

from plugtorch._dtypes import _COMPLEX, _FLOAT
from plugtorch.autograd import anomaly_mode, saved_hooks
from plugtorch.autograd import formulas as F
from plugtorch.autograd.complex_formulas import COMPLEX_OPS
from plugtorch.autograd.graph import (_FREED, NO_EDGE, AccumulateGrad, GradientEdge, OpNode, TensorMeta, edge,
                                      grad_accumulator, grad_lock, modified_error, next_seq)
from plugtorch.dispatch import dispatcher as D
from plugtorch.dispatch.registry import OUT_INPLACE, OUT_MULTI, OUT_RAW

Tensor = None  # set by plugtorch/__init__

_FORMULAS = F.FORMULAS
_new = object.__new__
_gs = D.grad_state
_anomaly = anomaly_mode.state

# Set while anomaly detection or a saved-tensors hook is on (update_extras): record() then hands
# each new node to it. Otherwise None, so the common path pays one global read per recorded op.
extras = None


# ---- forward: recording -------------------------------------------------------------------
def record(op, args, kwargs):
    """Run ``op`` below autograd and, if its result is floating point, attach an OpNode."""
    info = _CACHE.get(op)
    if info is None:
        info = _CACHE[op] = _record_info(op)
    formula, kind, fast, arity, complex_ok = info
    if formula is None:
        if not op.differentiable:
            return D.run(op, args, kwargs)
        if op.decomposition is not None:
            return op.decomposition(*args, **kwargs)   # differentiated through its steps
        raise RuntimeError(f"the derivative for '{op.name}' is not implemented: add a formula to "
                           "plugtorch/autograd/formulas.py, or call it under plugtorch.no_grad()")
    if kwargs:
        if kind == OUT_INPLACE:
            return formula.record_inplace(op, args, kwargs)
        args, kwargs = _tensors_positional(op, args, kwargs)
        fast = None
    elif kind == OUT_INPLACE:
        return formula.record_inplace(op, args, kwargs)
    if formula.when is not None and not formula.when(args, kwargs):
        return op.decomposition(*args, **kwargs)   # a call the formula does not cover
    _gs.enabled = False
    try:
        if fast is not None and len(args) == arity and not D._modes:
            out = fast(op, *args)    # the dispatcher's memoised pointwise path
        else:
            out = D.run(op, args, kwargs)
    finally:
        _gs.enabled = True
    if kind == OUT_RAW:
        return out

    node = _new(OpNode)
    node.op = op
    node.formula = formula
    node.kwargs = kwargs
    # node.args: the op's arguments, saved tensors as themselves (checked against `saved`
    # versions before use) and the others as TensorMeta, so the graph does not keep them alive
    edges = []
    slots = []
    saved = None
    bargs = args
    saves = formula.saves
    needs = formula.needs
    if needs is not None:    # save an argument only for the gradients that read it (mul, div)
        want = [a._rg if isinstance(a, Tensor) else False for a in args]
        skip = frozenset(i for i, users in needs.items() if not any(want[j] for j in users if j < len(want)))
    for i, a in enumerate(args):
        if a.__class__ is Tensor or isinstance(a, Tensor):
            fn = a.grad_fn
            if fn is not None:
                edges.append((fn, a._out_nr))
            elif a._rg:
                acc = a._acc
                edges.append((acc if acc is not None else grad_accumulator(a), 0))
            else:
                edges.append(NO_EDGE)
            shape = a._data.shape
            slots.append((i, -1, shape, a._dtype))
            if not complex_ok and a._dtype.category == _COMPLEX and edges[-1] is not NO_EDGE:
                raise _complex_result(op, a._dtype, "a complex input requires grad")
            if (saves is None or i in saves) and (needs is None or i not in skip):
                vc = a._vc
                if saved is None:
                    saved = []
                saved.append((a, vc[0] if vc is not None else 0))
            else:
                if bargs is args:
                    bargs = list(args)
                bargs[i] = TensorMeta.make(shape, a._dtype, a._device) if formula.shapes else None
                if formula.shapes == "geometry":   # as_strided: where x sits, not its (changeable) data
                    bargs[i].geometry = (a.stride(), a.storage_offset())
        elif (a.__class__ is list or a.__class__ is tuple) and a and isinstance(a[0], Tensor):
            if bargs is args:
                bargs = list(args)
            sub = bargs[i] = list(a)
            keep = saves is None or i in saves
            for j, b in enumerate(a):
                if isinstance(b, Tensor):
                    fn = b.grad_fn
                    edges.append((fn, b._out_nr) if fn is not None else (grad_accumulator(b), 0) if b._rg else NO_EDGE)
                    if not complex_ok and b._dtype.category == _COMPLEX and edges[-1] is not NO_EDGE:
                        raise _complex_result(op, b._dtype, "a complex input requires grad")
                    slots.append((i, j, b._data.shape, b._dtype))
                    if keep:
                        if saved is None:
                            saved = []
                        saved.append((b, b._version))
                    else:
                        sub[j] = TensorMeta.make(b._data.shape, b._dtype, b._device)
    node.seq = next_seq()    # after the edges: an input's AccumulateGrad may be created above
    node.args = bargs
    node.slots = slots
    node.saved = saved
    node.next_functions = tuple(edges)
    if kind == OUT_MULTI:
        node.n_outputs = len(out)
        node.out_meta = [(o._data.shape, o._dtype, o._device) for o in out]
        node.result = [_saved_output(o) for o in out] if formula.uses_result else None
        for k, o in enumerate(out):
            if o._dtype.category == _COMPLEX and not complex_ok:
                raise _complex_result(op, o._dtype)
            if o._dtype.category >= _FLOAT:
                o._rg = True
                o.grad_fn = node
                o._out_nr = k
        if extras is not None:
            extras(node)
        return out
    node.n_outputs = 1
    cat = out._dtype.category
    if cat == _COMPLEX and not complex_ok:
        raise _complex_result(op, out._dtype)
    if cat == _FLOAT or cat == _COMPLEX:
        if formula.uses_result:
            rf = formula.result_for
            if rf is None or any(edges[k] is not NO_EDGE for k, slot in enumerate(slots) if slot[0] in rf):
                node.result = _saved_output(out)
            else:      # (only the gradients of arguments that need none read it)
                node.result = None
        out._rg = True
        out.grad_fn = node
    else:
        node.result = None
    if extras is not None:
        extras(node)
    return out


def update_extras() -> None:
    """Point ``extras`` at what record() must do beside recording (anomaly_mode, saved_hooks)."""
    global extras
    anomaly = _anomaly.enabled
    hooked = bool(saved_hooks.active)
    if not anomaly and not hooked:
        extras = None
    else:
        extras = _extras


def _extras(node):
    if _anomaly.enabled:
        node._anomaly_trace = anomaly_mode.forward_stack()
        node._anomaly_parent = anomaly_mode.running_node()
    if saved_hooks.active:
        saved_hooks.pack_node(node)


def _complex_result(op, dtype, why=None):
    # ops outside complex_formulas.COMPLEX_OPS have no formula verified for complex numbers:
    # refuse rather than record one that may be silently wrong (or end the graph)
    why = why or f"an input requires grad and the result is {dtype}"
    return RuntimeError(f"{op.name}(): autograd is not supported for complex results in plugtorch yet "
                        f"({why}; its backward formula is not verified for complex numbers, see "
                        "docs/complex.md for the ops that are); compute it under plugtorch.no_grad() or on "
                        "detached inputs")


def cast_grad(g, dtype):
    """A gradient cast to its input's dtype: a real input of a complex computation gets the real
    part (as PyTorch: the imaginary part is the derivative along a direction the input cannot move)."""
    if g._dtype.category == _COMPLEX and dtype.category != _COMPLEX:
        g = g.real
        if g._dtype is dtype:
            return g
    return g.to(dtype)


def _tensors_positional(op, args, kwargs):
    """Move tensor keyword arguments (``layer_norm(x, s, weight=w)``) to their positions, so
    the node sees every input."""
    for v in kwargs.values():
        if isinstance(v, Tensor):
            break
    else:
        return args, kwargs
    bound = op.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    if any(isinstance(v, Tensor) for v in bound.kwargs.values()):
        raise NotImplementedError(f"{op.name}(): tensors passed as keyword-only arguments are not "
                                  "differentiated; declare them positional-or-keyword in the op")
    return bound.args, bound.kwargs


_CACHE = F.RECORD_CACHE


def _record_info(op):
    """(formula, out kind, memoised dispatcher entry point or None, its arity) for ``op``."""
    fast, arity = None, 0
    if "pointwise" in op.tags and op.meta is not None:
        arity = len(op.signature.parameters)
        fast = {1: D.unary, 2: D.binary}.get(arity)
    formula = _FORMULAS.get(op.name)
    if formula is None and op.grad_nyi:
        formula = _not_implemented(op.name)
    return (formula, op.out_kind, fast, arity, op.name in COMPLEX_OPS)


def _not_implemented(name):
    """The node of an op whose derivative is not implemented (registered with
    differentiable="not_implemented"): it saves nothing and raises if a backward reaches it,
    as PyTorch's not_implemented derivatives do."""
    from plugtorch.autograd.formulas import Formula

    def backward(*args, **kwargs):
        raise NotImplementedError(f"the derivative for '{name}' is not implemented.")
    return Formula(backward, frozenset(), False, shapes=False)


def _saved_output(o):
    # a detached alias (no reference cycle output -> node -> output), with its version
    d = o.detach()
    return (d, d._version)


# ---- backward: one node -------------------------------------------------------------------
def apply_node(node, grads):
    """Run one OpNode's formula: grads of its outputs -> grads of its inputs (in edge order)."""
    if node.released:
        raise RuntimeError(_FREED)
    if node.n_outputs == 1:
        g = grads[0]
    else:
        g = tuple(gr if gr is not None else _zeros(*m) for gr, m in zip(grads, node.out_meta))
    saved = node.saved
    if saved:
        for t, version in saved:
            vc = t._vc
            if (vc[0] if vc is not None else 0) != version:
                raise modified_error(t, version)
    formula = node.formula
    if formula.uses_result:
        r = node.result
        res = formula.fn(g, *node.args, **node.kwargs,
                         result=[_unpack_output(x, node, k) for k, x in enumerate(r)] if node.n_outputs > 1
                         else None if r is None else _unpack_output(r, node))
    elif node.kwargs:
        res = formula.fn(g, *node.args, **node.kwargs)
    else:
        res = formula.fn(g, *node.args)
    out = []
    n = len(res)
    edges = node.next_functions
    for k, (i, j, shape, dtype) in enumerate(node.slots):
        gi = res[i] if i < n and edges[k] is not NO_EDGE else None   # (no gradient for an input that needs none:
        if gi is not None:                                        # a 0-d cpu float64 beside a device lacking it)
            if j >= 0:
                gi = gi[j]
                if gi is None:
                    out.append(None)
                    continue
            if gi._data.shape != shape:   # undo broadcasting
                gi = F.sum_to(gi, shape)
            if gi._dtype is not dtype:
                gi = cast_grad(gi, dtype)
        out.append(gi)
    return out


def _unpack_output(saved, node, k=0):
    t, version = saved
    if t._version != version:
        raise modified_error(t, version, node)
    r = t.detach()
    if r._dtype.category >= _FLOAT:
        r._rg = True
        r.grad_fn = node   # so create_graph differentiates through the output too
        r._out_nr = k      # (which output of a multi-output op: eigh's vectors are its output 1)
    return r


def _zeros(shape, dtype, device):
    import plugtorch
    return plugtorch.zeros(tuple(shape), dtype=dtype, device=device)


# ---- backward: the graph ------------------------------------------------------------------
def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None, accumulate=True,
                 allow_unused=False):
    """Propagate ``root_grads`` from ``roots``. With ``inputs`` and ``accumulate`` False
    (autograd.grad), return the gradients of ``inputs`` instead of accumulating."""
    heap = []
    buffers = {}
    handed = set()          # native arrays already stored as some leaf's .grad
    rec = D._stack.recorder if D._modes else None
    if rec is not None:
        rec.backward_ran = True   # plugtorch.jit: the traced graph holds a backward
        if create_graph:
            rec.backward_recorded = True   # (and a history of it, which its replay does not make)
        if retain_graph:
            rec.backward_retained = True   # (history kept for a second backward a replay cannot run)
        seq0 = getattr(rec, "seq0", None)
        if seq0 is None:
            rec = None
    for k, (t, g) in enumerate(zip(roots, root_grads)):
        fn = t.grad_fn
        if fn is not None and fn.n_outputs == 1 and fn not in buffers:
            buffers[fn] = [g]
            heap.append((fn.seq, fn))
        else:
            e = edge(t)
            if e is NO_EDGE:
                raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn")
            _send(buffers, heap, e[0], e[1], g)
        handed.add(id(g._data))    # never store a caller's gradient tensor as .grad
    if len(heap) > 1:
        heapify(heap)
    capture = needed = None
    if inputs is not None:
        capture, needed = _plan(heap, inputs)
        captured = {e[0] for e in capture}
        results = [None] * len(inputs)

    prev = _gs.enabled
    _gs.enabled = bool(create_graph)
    final = []      # queue_callback's callbacks, run once the graph is done
    tasks = _running.__dict__.setdefault("tasks", [])
    tasks.append(final)
    anomaly = _anomaly.enabled
    check_nan = anomaly and _anomaly.check_nan
    if anomaly:
        outer = anomaly_mode.running_node()   # (a backward run inside another node's backward)
    node = None
    try:
        while heap:
            node = heappop(heap)[1]
            grads = buffers.pop(node)
            if rec is not None and node.seq > seq0 and node.__class__ is not AccumulateGrad:
                # (plugtorch.jit: autograd history made before the trace; its saved values are
                # the traced call's, not a replay's)
                rec.outside_history.append(node.name())
            pre = node._pre_hooks
            if capture is not None:
                if node not in needed and node not in captured:
                    continue     # (its hooks do not run either, as in PyTorch)
                if pre is not None:
                    _run_tensor_hooks(node, grads, handed)
                # the captured gradient has the tensors' hooks applied, not the node's prehooks
                for nr, g in enumerate(grads):
                    for k in capture.get((node, nr), ()):
                        results[k] = g
                if node not in needed:
                    continue
            elif pre is not None:
                _run_tensor_hooks(node, grads, handed)
            if pre is not None and None in pre:
                _run_node_prehooks(node, grads, handed)
            if node.__class__ is AccumulateGrad:
                if accumulate and grads[0] is not None:
                    t = node._var()
                    if t is not None:
                        _accumulate(t, grads[0], create_graph, handed)
                        if t._post_acc_hooks:
                            for h in list(t._post_acc_hooks):
                                if h(t) is not None:
                                    raise RuntimeError("Tensor post accumulate grad hooks should return None.")
                    if node._post_hooks:   # Node.register_hook on a leaf's AccumulateGrad: (), (grad,)
                        _run_post_hooks(node, [], grads, handed)
                continue
            if anomaly:   # nodes recorded by this formula (create_graph) name it as their cause
                anomaly_mode.set_running_node(node)
            if node.__class__ is OpNode:
                outs = apply_node(node, grads)
            else:
                outs = node.apply(grads, create_graph)
            if check_nan:
                anomaly_mode.check_nan(node, outs)
            if node._post_hooks:
                outs = _run_post_hooks(node, outs, grads, handed)
            if not retain_graph:
                node.release()
            for e, g in zip(node.next_functions, outs):
                if e is NO_EDGE or g is None:
                    continue
                nxt, nr = e     # _send(), inlined: this loop runs once per graph edge
                buf = buffers.get(nxt)
                if buf is None:
                    if nr == 0 and nxt.n_outputs == 1:
                        buffers[nxt] = [g]
                        heappush(heap, (nxt.seq, nxt))
                    else:
                        _send(buffers, heap, nxt, nr, g)
                elif buf[nr] is None:
                    buf[nr] = g
                else:
                    buf[nr] = buf[nr] + g
        node = None
        while final:    # a callback may queue another
            final.pop(0)()
    except Exception:
        if anomaly and node is not None:
            anomaly_mode.warn_forward_stack(node)
        raise
    finally:
        tasks.pop()
        _gs.enabled = prev
        if anomaly:
            anomaly_mode.set_running_node(outer)
    if inputs is None:
        return None
    if accumulate:
        for t, r in zip(inputs, results):   # backward(inputs=[non-leaf]) fills its .grad too
            if r is not None and t.__class__ is not GradientEdge and t.grad_fn is not None:
                _accumulate(t, r, create_graph, handed)
        return None
    for k, r in enumerate(results):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"One of the differentiated Tensors (input {k}) appears to not have been used in "
                "the graph. Set allow_unused=True if this is the desired behavior.")
    return tuple(r if r is None or create_graph else r.detach() for r in results)


_running = threading.local()   # .tasks: per running backward (nested ones too), its callbacks


def queue_callback(callback) -> None:
    """Run ``callback()`` when the backward pass now running has finished its graph (PyTorch's
    ``Variable._execution_engine.queue_callback``; DDP waits for its all-reduces there).

    >>> import plugtorch as pt
    >>> x = pt.ones(1, requires_grad=True)
    >>> h = x.register_hook(lambda g: queue_callback(lambda: print("done")))
    >>> (x * 2).sum().backward()
    done
    """
    tasks = getattr(_running, "tasks", None)
    if not tasks:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    tasks[-1].append(callback)


def _send(buffers, heap, node, nr, g):
    """Add gradient ``g`` for output ``nr`` of ``node``; queue the node on its first gradient."""
    buf = buffers.get(node)
    if buf is None:
        n = node.n_outputs
        if n == 1 and nr == 0:
            buffers[node] = [g]
        else:
            buf = buffers[node] = [None] * max(n, nr + 1)
            buf[nr] = g
        heappush(heap, (node.seq, node))
    elif buf[nr] is None:
        buf[nr] = g
    else:
        buf[nr] = buf[nr] + g


def _shown(handed, values):
    """Gradients a user's hook has seen (and may keep): never stored as a leaf's .grad without a
    copy, so changing .grad in place later cannot change what the hook kept (PyTorch copies a
    gradient that is referenced elsewhere)."""
    for g in values:
        if g is not None:
            handed.add(id(g._data))


def _run_tensor_hooks(node, grads, handed):
    """The hooks of the tensors whose gradients ``node`` receives, then retain_grad's."""
    for nr, hooks in node._pre_hooks.items():
        if nr is None or nr >= len(grads):
            continue
        for h in list(hooks):
            if grads[nr] is not None:
                g = grads[nr]
                handed.add(id(g._data))
                r = h(g)
                if r is not None:
                    grads[nr] = _checked_hook_value(h, g, r)
                    handed.add(id(r._data))
    retained = node._retained
    if retained:
        for nr, h in retained.items():
            if nr < len(grads) and grads[nr] is not None:
                h(grads[nr])


def _run_node_prehooks(node, grads, handed):
    """Node.register_prehook's, after the tensors' hooks (as in PyTorch)."""
    for h in list(node._pre_hooks[None]):
        _shown(handed, grads)
        r = h(tuple(grads))
        if r is not None:
            grads[:] = _hook_result(h, r, grads)
            _shown(handed, grads)


def _run_post_hooks(node, outs, grads, handed):
    for h in list(node._post_hooks):
        _shown(handed, outs)
        r = h(tuple(outs), tuple(grads))
        if r is not None:
            outs = _hook_result(h, r, outs)
            _shown(handed, outs)
    return outs


def _hook_result(h, r, old):
    r = list(r) if isinstance(r, (tuple, list)) else [r]
    if len(r) != len(old):
        raise RuntimeError(f"hook '{getattr(h, '__name__', h)}' has returned an incorrect number of values "
                           f"(got {len(r)}, but expected {len(old)})")
    return [v if v is None or v is o else _checked_hook_value(h, o, v) for o, v in zip(old, r)]


def _checked_hook_value(h, old, new):
    """A hook's replacement gradient: a tensor of the replaced one's shape, dtype and device (as
    PyTorch checks), so a wrong one fails here rather than corrupting the gradients below it."""
    name = getattr(h, "__name__", h)
    if not isinstance(new, Tensor):
        raise TypeError(f"hook '{name}' returned a {type(new).__name__}; a gradient hook must return "
                        "a Tensor (the new gradient) or None")
    if old is None:
        raise RuntimeError(f"hook '{name}' can't replace a None gradient with a non-None value")
    if new._dtype is not old._dtype or new.device != old.device:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {old._dtype.name} on {old.device}, "
                           f"got {new._dtype.name} on {new.device}); return a gradient of the same dtype and device")
    if new._data.shape != old._data.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {list(old.shape)}, got "
                           f"{list(new.shape)}); return a gradient of the same shape")
    return new


def _plan(heap, inputs):
    """For ``inputs``: which (node, output_nr) edges to capture, and which nodes must run
    (those from which a captured edge is reachable; the others are skipped)."""
    capture = {}
    for k, t in enumerate(inputs):
        e = (t.node, t.output_nr) if t.__class__ is GradientEdge else edge(t)
        if e is NO_EDGE:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        capture.setdefault(e, []).append(k)
    targets = {e[0] for e in capture}
    needed = set()
    state = {}                    # node -> True (leads to a target) / False, once known
    for _, root in heap:
        stack = [(root, iter(root.next_functions))]
        state.setdefault(root, None)
        while stack:
            n, it = stack[-1]
            for e in it:
                if e is NO_EDGE:
                    continue
                c = e[0]
                if c not in state:
                    state[c] = None
                    stack.append((c, iter(c.next_functions)))
                    break
            else:
                stack.pop()
                hit = n in targets or any(e is not NO_EDGE and state.get(e[0]) for e in n.next_functions)
                state[n] = hit
                if hit:
                    needed.add(n)
    # captured non-leaf nodes need not run unless something below them is needed too
    for n in targets:
        if n in needed and not any(e is not NO_EDGE and state.get(e[0]) for e in n.next_functions):
            if n.__class__ is not AccumulateGrad:
                needed.discard(n)
    return capture, needed


def _accumulate(t, g, create_graph, handed):
    """AccumulateGrad: add ``g`` into ``t.grad`` (a fresh tensor: never aliased to another)."""
    if g._data.shape != t._data.shape:
        g = F.sum_to(g, tuple(t.shape))
    if g._dtype is not t._dtype:
        g = cast_grad(g, t._dtype)
    if D._modes and D._stack.recorder is not None:
        D._stack.recorder.grad_event(t, "read")    # plugtorch.jit: accumulating depends on the old .grad
    with grad_lock:   # read, add and store as one step when threads share the leaf
        _accumulate_locked(t, g, create_graph, handed)


def _accumulate_locked(t, g, create_graph, handed):
    old = t._grad
    if create_graph:
        if old is None and (id(g._data) in handed or g._base is not None):
            g = g.clone()    # differentiable copy: still part of the double-backward graph
        t._grad = g if old is None else old + g
        return
    if old is None:
        if g.grad_fn is not None or g._rg:
            g = g.detach()
        key = id(g._data)
        if key in handed or g._base is not None:   # shared, or a view (maybe expanded): copy
            g = g.clone()
            key = id(g._data)
        handed.add(key)
        t._grad = g
    elif (old._base is None and old.grad_fn is None and old._data.shape == g._data.shape
          and old._dtype is g._dtype and not (D._modes and D._stack.recorder is not None)):
        # into the existing .grad, as PyTorch's AccumulateGrad: `g = x.grad` (an optimizer's
        # or the user's) stays x's gradient. (A view, a tensor with history or a trace: a new one.)
        prev = _gs.enabled
        _gs.enabled = False
        try:
            old.add_(g.detach() if g._rg else g)
        finally:
            _gs.enabled = prev
    else:
        t._grad = old + g.detach() if g._rg else old + g
