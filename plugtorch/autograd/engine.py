"""Recording ops into the graph, and running it backwards.

``record`` runs an op below autograd and attaches an OpNode holding the op's formula;
``run_backward`` walks the graph from the roots in dependency order, calling each node's
formula (with plugtorch ops, so ``create_graph=True`` records a graph of the backward pass).
"""
from __future__ import annotations

from plugtorch.autograd import formulas as F
from plugtorch.autograd.graph import _FREED, AccumulateGrad, OpNode, SavedTensor, TensorMeta, edge
from plugtorch.dispatch import dispatcher as D
from plugtorch.dispatch.registry import OUT_INPLACE, OUT_MULTI, OUT_RAW

Tensor = None  # set by plugtorch/__init__


# ---- forward: recording -------------------------------------------------------------------
def record(op, args, kwargs):
    if not op.differentiable:
        return D.run(op, args, kwargs)
    formula = F.FORMULAS.get(op.name)
    if formula is None:
        if op.decomposition is not None:
            return op.decomposition(*args, **kwargs)
        raise RuntimeError(f"the derivative for '{op.name}' is not implemented: add a formula to "
                           "plugtorch/autograd/formulas.py, or call it under plugtorch.no_grad()")
    if op.out_kind == OUT_INPLACE:
        return formula.record_inplace(op, args, kwargs)
    gs = D.grad_state
    gs.enabled = False
    try:
        out = D.run(op, args, kwargs)
    finally:
        gs.enabled = True
    if op.out_kind == OUT_RAW:
        return out

    node = OpNode()
    node.op = op
    node.formula = formula
    node.released = False
    nexts = []
    pos = []
    bargs = list(args)
    saves = formula.saves
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            nexts.append(edge(a))
            pos.append((i, None))
            bargs[i] = SavedTensor(a) if (saves is None or i in saves) else TensorMeta(a)
        elif isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):
            sub = []
            for j, b in enumerate(a):
                nexts.append(edge(b))
                pos.append((i, j))
                sub.append(SavedTensor(b) if (saves is None or i in saves) else TensorMeta(b))
            bargs[i] = sub
    node.args = bargs
    node.kwargs = kwargs
    node.in_meta = pos
    node.next_functions = tuple(nexts)
    if op.out_kind == OUT_MULTI:
        node.n_outputs = len(out)
        node.out_meta = [TensorMeta(o) for o in out]
        node.result = [SavedTensor(o, is_output=True) for o in out] if formula.uses_result else None
        for k, o in enumerate(out):
            if o._dtype.is_floating_point:
                o._rg = True
                o.grad_fn = node
                o._out_nr = k
        return out
    node.n_outputs = 1
    node.out_meta = None
    if out._dtype.is_floating_point:
        node.result = SavedTensor(out, is_output=True) if formula.uses_result else None
        out._rg = True
        out.grad_fn = node
    return out


def apply_node(node, grads, create_graph):
    """Run one OpNode's formula: grads of its outputs -> grads of its inputs."""
    if node.released:
        raise RuntimeError(_FREED)
    formula = node.formula
    if node.n_outputs == 1:
        g = grads[0]
    else:
        g = tuple(gr if gr is not None else _zeros(m) for gr, m in zip(grads, node.out_meta))
    args = [_unpack(a, node) for a in node.args]
    kwargs = node.kwargs
    if formula.uses_result:
        r = node.result
        kwargs = dict(kwargs, result=[s.unpack(node) for s in r] if isinstance(r, list) else r.unpack(node))
    res = formula.fn(g, *args, **kwargs)
    if not isinstance(res, (tuple, list)):
        res = (res,)
    out = []
    for (i, j), nxt in zip(node.in_meta, node.next_functions):
        if nxt is None:
            out.append(None)
            continue
        gi = res[i] if i < len(res) else None
        if j is not None and gi is not None:
            gi = gi[j]
        if gi is not None:
            a = node.args[i] if j is None else node.args[i][j]
            meta = a.data if isinstance(a, SavedTensor) else a
            gi = _fit(gi, meta)
        out.append(gi)
    return out


def _unpack(a, node):
    if isinstance(a, SavedTensor):
        return a.unpack(node)
    if isinstance(a, list) and a and isinstance(a[0], (SavedTensor, TensorMeta)):
        return [x.unpack(node) if isinstance(x, SavedTensor) else x for x in a]
    return a


def _zeros(meta):
    import plugtorch
    return plugtorch.zeros(meta.shape, dtype=meta.dtype, device=meta.device)


def _fit(g, meta):
    """Reduce a broadcast gradient to the input's shape and cast it to the input's dtype."""
    if not isinstance(g, Tensor):
        return g
    shape = tuple(meta.shape)
    if tuple(g.shape) != shape:
        g = F.sum_to(g, shape)
    if g._dtype is not meta.dtype:
        g = g.to(meta.dtype)
    return g


# ---- backward -----------------------------------------------------------------------------
def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None, accumulate=True,
                 allow_unused=False):
    """Propagate ``root_grads`` from ``roots``; returns captured grads when ``inputs`` given
    and ``accumulate`` is False (autograd.grad)."""
    root_edges = []
    for t, g in zip(roots, root_grads):
        e = edge(t)
        if e is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        root_edges.append((e, g))

    capture = {}
    if inputs is not None:
        for k, t in enumerate(inputs):
            e = edge(t)
            if e is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            capture.setdefault(e, []).append(k)

    # dependency counts over the reachable graph
    deps = {}
    parents = {}
    seen = set()
    stack = [e[0] for e, _ in root_edges]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        for nf in n.next_functions:
            if nf is not None:
                deps[nf[0]] = deps.get(nf[0], 0) + 1
                parents.setdefault(nf[0], []).append(n)
                stack.append(nf[0])

    needed = None
    if inputs is not None:
        # only nodes from which a captured edge can be reached need to run
        needed = {e[0] for e in capture if e[0] in seen}
        stack = list(needed)
        while stack:
            for p in parents.get(stack.pop(), ()):
                if p not in needed:
                    needed.add(p)
                    stack.append(p)

    buffers = {}
    for (node, nr), g in root_edges:
        _accum_buffer(buffers, node, nr, g)
    ready = [n for n in {e[0][0]: None for e in root_edges} if deps.get(n, 0) == 0]
    results = [None] * (len(inputs) if inputs is not None else 0)
    handed = set()

    gs = D.grad_state
    prev = gs.enabled
    gs.enabled = bool(create_graph)
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None) or [None]
            if node._pre_hooks:
                for nr, hooks in node._pre_hooks.items():
                    for h in list(hooks):
                        if nr < len(grads) and grads[nr] is not None:
                            r = h(grads[nr])
                            if r is not None:
                                grads[nr] = r
            for nr, g in enumerate(grads):
                ks = capture.get((node, nr))
                if ks:
                    for k in ks:
                        results[k] = g
            run_it = needed is None or node in needed
            if isinstance(node, AccumulateGrad):
                if run_it and accumulate and grads[0] is not None and (inputs is None or (node, 0) in capture):
                    _accumulate(node.variable, grads[0], create_graph, handed)
                continue
            if not run_it or all(g is None for g in grads):
                outs = [None] * len(node.next_functions)
            elif isinstance(node, OpNode):
                outs = apply_node(node, grads, create_graph)
            else:
                outs = node.apply(grads, create_graph)
            if node._post_hooks:
                for h in node._post_hooks:
                    h(outs, grads)
            if not retain_graph and hasattr(node, "release"):
                node.release()
            for nf, g in zip(node.next_functions, outs):
                if nf is None:
                    continue
                nxt, nr = nf
                if g is not None:
                    _accum_buffer(buffers, nxt, nr, g)
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    ready.append(nxt)
    finally:
        gs.enabled = prev
    if inputs is not None and not accumulate:
        for k, r in enumerate(results):
            if r is None and not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {k}) appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
        return tuple(r if r is None or create_graph else r.detach() for r in results)
    return None


def _accum_buffer(buffers, node, nr, g):
    buf = buffers.get(node)
    if buf is None:
        n = getattr(node, "n_outputs", 1)
        buf = buffers[node] = [None] * max(n, nr + 1)
    if buf[nr] is None:
        buf[nr] = g
    else:
        buf[nr] = buf[nr] + g


def _accumulate(t, g, create_graph, handed):
    if not create_graph:
        g = g.detach()
        if id(g._data) in handed:
            g = g.clone()
        handed.add(id(g._data))
    if g.shape != t.shape:
        g = F.sum_to(g, tuple(t.shape))
    if t._grad is None:
        t._grad = g
    else:
        t._grad = t._grad + g
