"""grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, linearize over the reverse-mode engine.

Each transform calls the function on fresh autograd leaves (views of the caller's tensors when
those require grad, so an outer transform or ``backward`` still reaches them) and differentiates
with ``autograd.grad``. Inside another transform, or on inputs that require grad, it records the
backward pass too (``create_graph``), so transforms nest: ``grad(grad(f))``, ``jacrev(jacrev(f))``.
Forward mode (``jvp``, ``jacfwd``, ``linearize``) is computed by the double-vjp trick: the vjp
``u -> J^T u`` is linear in ``u``, and its vjp with respect to ``u`` is ``J v``.

>>> import plugtorch as pt
>>> grad(lambda x: (x ** 3).sum())(pt.tensor([1.0, 2.0])).tolist()
[3.0, 12.0]
"""
from __future__ import annotations

import functools
import threading

import plugtorch as pt
from plugtorch.autograd.grad_mode import enable_grad, is_grad_enabled
from plugtorch.func._pytree import spec_str, tree_flatten, tree_map, tree_unflatten


class _Depth(threading.local):
    n = 0


_depth = _Depth()


class _level:
    """Inside a transform: transforms called within it record their backward pass."""

    def __enter__(self):
        _depth.n += 1

    def __exit__(self, *exc):
        _depth.n -= 1


def _needs_graph(trees) -> bool:
    if _depth.n > 0:
        return True
    if not is_grad_enabled():
        return False
    return any(isinstance(x, pt.Tensor) and x.requires_grad for t in trees for x in tree_flatten(t)[0])


def _fresh(x):
    if not isinstance(x, pt.Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    return x.view_as(x) if x.requires_grad else x.detach().requires_grad_()


def _detach(x):
    return x.detach() if isinstance(x, pt.Tensor) else x


def _argnums(argnums, nargs):
    """(positions, was a tuple) with torch's checks."""
    def one(a):
        if not isinstance(a, int) or isinstance(a, bool):
            raise RuntimeError(f"argnum must be int, got: {type(a)}")
        if not -nargs <= a < nargs:
            raise RuntimeError(f"Got argnum={a}, but only {nargs} positional inputs")
        return a % nargs
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        return (one(argnums),), False
    if not isinstance(argnums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if not argnums:
        raise RuntimeError("argnums must be non-empty")
    pos = tuple(one(a) for a in argnums)
    if len(set(pos)) != len(pos):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return pos, True


def _split_aux(out, has_aux, api):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return out


def _grads(outputs, inputs, cotangents, create_graph, retain_graph=None):
    """autograd.grad over the outputs that require grad; zeros for inputs they do not reach."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    res = [None] * len(inputs)
    if pairs:
        with enable_grad() if create_graph else _nothing():
            res = pt.autograd.grad([o for o, _ in pairs], inputs, [c for _, c in pairs], allow_unused=True,
                                   retain_graph=retain_graph, create_graph=create_graph)
    return [g if g is not None else pt.zeros_like(x) for g, x in zip(res, inputs)]


class _nothing:
    def __enter__(self):
        pass

    def __exit__(self, *exc):
        return False


def _call(func, args, kwargs, positions, has_aux, api):
    """Call ``func`` inside a transform with ``args[positions]`` replaced by fresh leaves:
    (output, aux, the fresh argument trees, their leaves, whether to record the backward pass)."""
    cg = _needs_graph([args[i] for i in positions])
    track = not cg and is_grad_enabled()
    args = list(args)
    with _level(), enable_grad():
        diff = [tree_map(_fresh, args[i]) for i in positions]
        for i, d in zip(positions, diff):
            args[i] = d
        out = func(*args, **kwargs)
    leaves = tree_flatten(diff)[0]
    if track and _reaches_other_leaves(out, leaves):
        cg = True   # func used a tensor from outside that requires grad: keep the results connected to it
    out, aux = _split_aux(out, has_aux, api)
    return out, aux, diff, leaves, cg


def _reaches_other_leaves(out, leaves) -> bool:
    """Whether the graph of ``out`` (a tree) reaches a leaf requiring grad besides ``leaves``."""
    from plugtorch.autograd.graph import AccumulateGrad
    ours = {id(x) for x in leaves}
    todo = [o.grad_fn for o in tree_flatten(out)[0] if isinstance(o, pt.Tensor) and o.grad_fn is not None]
    seen = set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            if id(node.variable) not in ours:
                return True
            continue
        todo.extend(e[0] for e in node.next_functions if e is not None and e[0] is not None)
    return False


def _tensor_outputs(out, api):
    leaves, spec = tree_flatten(out)
    for o in leaves:
        if not isinstance(o, pt.Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")
    return leaves, spec


# ---- reverse mode -----------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux=False):
    """``func``'s gradient with respect to ``args[argnums]`` and its value: (grad, value), or
    (grad, (value, aux)) with ``has_aux``. ``func`` must return a 0-d tensor.

    >>> g, v = grad_and_value(lambda x: (x * x).sum())(pt.tensor([1.0, 2.0]))
    >>> g.tolist(), v.item()
    ([2.0, 4.0], 5.0)
    """
    api = "grad_and_value(f)(*args)"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        positions, is_tuple = _argnums(argnums, len(args))
        out, aux, diff, leaves, cg = _call(func, args, kwargs, positions, has_aux, api)
        if not isinstance(out, pt.Tensor):
            raise RuntimeError(f"{api}: Expected f(*args) to return a Tensor, got {type(out)}")
        if out.dim() != 0:
            raise RuntimeError(f"{api}: Expected f(*args) to return a scalar Tensor, got tensor with "
                               f"{out.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
        grads = _grads([out], leaves, [None], cg)
        grads = tree_unflatten(grads, tree_flatten(diff)[1])
        grads = tuple(grads) if is_tuple else grads[0]
        if not cg:
            out, aux = out.detach(), tree_map(_detach, aux)
        return (grads, (out, aux)) if has_aux else (grads, out)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The gradient of a scalar ``func`` with respect to ``args[argnums]`` (an int or a tuple of
    ints; each argument may be a tree of tensors); with ``has_aux``, (grad, aux).

    >>> grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(pt.tensor([2.0]), pt.tensor([3.0]))
    (tensor([3.]), tensor([2.]))
    """
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]); ``vjp_fn(cotangents)`` returns one gradient tree per
    primal, and may be called many times.

    >>> out, vjp_fn = vjp(lambda x: x * x, pt.tensor([1.0, 3.0]))
    >>> vjp_fn(pt.tensor([1.0, 1.0]))
    (tensor([2., 6.]),)
    """
    api = "vjp(f, *primals)"
    out, aux, diff, leaves, cg = _call(func, primals, {}, range(len(primals)), has_aux, api)
    out_leaves, out_spec = _tensor_outputs(out, api)
    in_spec = tree_flatten(diff)[1]

    def vjp_fn(cotangents, *, retain_graph=True, create_graph=None):
        ct, ct_spec = tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function. cotangents: {spec_str(ct_spec)}, primal output: "
                               f"{spec_str(out_spec)}")
        graph = create_graph if create_graph is not None else cg or _needs_graph([ct])
        with _level():
            return tuple(tree_unflatten(_grads(out_leaves, leaves, ct, graph, retain_graph), in_spec))

    if not cg:
        out, aux = tree_map(_detach, out), tree_map(_detach, aux)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """The Jacobian of ``func`` with respect to ``args[argnums]``, one vjp per output element:
    for each output leaf ``o`` and input leaf ``x``, a tensor of shape ``o.shape + x.shape``.

    >>> jacrev(lambda x: x.sin())(pt.tensor([0.0, 0.0])).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        positions, is_tuple = _argnums(argnums, len(args))
        out, aux, diff, leaves, cg = _call(func, args, kwargs, positions, has_aux, "jacrev(f, ...)(*args)")
        out_leaves, out_spec = _tensor_outputs(out, "vjp(f, *primals)")
        in_spec = tree_flatten(diff)[1]
        jacs = []
        for o in out_leaves:
            per_arg = tree_unflatten(_jacobian_of(o, leaves, cg), in_spec)
            jacs.append(tuple(per_arg) if is_tuple else per_arg[0])
        jac = tree_unflatten(jacs, out_spec)
        if not cg:
            jac, aux = tree_map(_detach, jac), tree_map(_detach, aux)
        return (jac, aux) if has_aux else jac
    return wrapper


def _jacobian_of(o, leaves, create_graph):
    """[d o / d x for x in leaves], each of shape o.shape + x.shape."""
    flat = o.reshape(-1)
    rows = [[] for _ in leaves]
    for j in range(o.numel()):
        for r, g in zip(rows, _grads([flat[j]], leaves, [None], create_graph, retain_graph=True)):
            r.append(g)
    out = []
    for r, x in zip(rows, leaves):
        shape = tuple(o.shape) + tuple(x.shape)
        out.append(pt.stack(r, 0).view(shape) if r else pt.zeros(shape, dtype=x.dtype, device=x.device))
    return out


# ---- forward mode, by the double-vjp trick ----------------------------------------------------
def _check_forward_primals(primals):
    """torch's forward-mode check: a primal that cannot carry a tangent is a ValueError."""
    for p in tree_flatten(primals)[0]:
        if isinstance(p, pt.Tensor) and not (p.is_floating_point() or p.is_complex()):
            raise ValueError(f"Expected primal to be floating point or complex, but got: {p.dtype}")


def _linearized(func, primals, api, has_aux):
    """Run ``func`` once and keep u -> J^T u: (out, aux, out leaves, zero cotangents u, J^T u, cg)."""
    _check_forward_primals(primals)
    out, aux, diff, leaves, cg = _call(func, primals, {}, range(len(primals)), has_aux, api)
    out_leaves, out_spec = _tensor_outputs(out, api)
    us = [pt.zeros_like(o, requires_grad=o.is_floating_point() or o.is_complex()) for o in out_leaves]
    jtu = _grads(out_leaves, leaves, us, create_graph=True)
    return out, aux, out_leaves, out_spec, us, jtu, cg


def _jv(out_leaves, us, jtu, tangents, cg, retain_graph=None):
    """J v for the tangent leaves v: the vjp of u -> J^T u with respect to u."""
    pairs = [(g, t) for g, t in zip(jtu, tangents) if g.requires_grad]
    live = [u for u in us if u.requires_grad]
    res = {}
    if pairs and live:
        with enable_grad() if cg else _nothing():
            gs = pt.autograd.grad([g for g, _ in pairs], live, [t for _, t in pairs], allow_unused=True,
                                  retain_graph=retain_graph, create_graph=cg)
        res = {id(u): g for u, g in zip(live, gs)}
    return [res.get(id(u)) if res.get(id(u)) is not None else pt.zeros_like(o) for u, o in zip(us, out_leaves)]


def _check_tangents(primals, tangents, api):
    p_leaves, p_spec = tree_flatten(primals)
    t_leaves, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python structure. For example, "
                           "if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
                           f"{spec_str(p_spec)} and tangents with structure {spec_str(t_spec)}")
    for p, t in zip(p_leaves, t_leaves):
        if not isinstance(t, pt.Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(t)}")
        if tuple(t.shape) != tuple(p.shape):
            raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                               f"Tensor, this is not supported. Tensor is of size {list(p.shape)} while the given "
                               f"forward gradient is of size {list(t.shape)}.")
    return t_leaves


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J tangents[, aux]); ``primals`` and ``tangents`` are tuples of the same
    structure. Computed by the double-vjp trick (two reverse passes), not forward-mode AD.

    >>> jvp(lambda x: x * x, (pt.tensor([1.0, 3.0]),), (pt.tensor([1.0, 0.0]),))[1].tolist()
    [2.0, 0.0]
    """
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    t_leaves = _check_tangents(primals, tangents, api)
    out, aux, out_leaves, out_spec, us, jtu, cg = _linearized(func, primals, api, has_aux)
    if strict and not any(g.requires_grad for g in jtu):
        raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is independent of the inputs. "
                           "This is not allowed with strict=True.")
    with _level():
        jv = tree_unflatten(_jv(out_leaves, us, jtu, t_leaves, cg), out_spec)
    if not cg:
        out, aux = tree_map(_detach, out), tree_map(_detach, aux)
    return (out, jv, aux) if has_aux else (out, jv)


def linearize(func, *primals):
    """(func(*primals), jvp_fn): ``jvp_fn(*tangents)`` is J tangents at ``primals``, reusing the
    graph of one call (two reverse passes per call of jvp_fn).

    >>> out, jvp_fn = linearize(lambda x: x.sin(), pt.tensor([0.0]))
    >>> jvp_fn(pt.tensor([2.0])).tolist()
    [2.0]
    """
    out, _, out_leaves, out_spec, us, jtu, cg = _linearized(func, primals, "linearize(f, *primals)", False)
    p_leaves, p_spec = tree_flatten(primals)

    def jvp_fn(*tangents):
        t_leaves, t_spec = tree_flatten(tangents)
        if t_spec != p_spec:
            raise RuntimeError(f"Expected the tangents {spec_str(t_spec)} to have the same argspec as the primals "
                               f"{spec_str(p_spec)}")
        for idx, (p, t) in enumerate(zip(p_leaves, t_leaves)):
            for what in ("shape", "device", "dtype"):
                if getattr(t, what) != getattr(p, what):
                    raise RuntimeError(f"tangent:{idx} with {what} {getattr(t, what)} in flattened pytree doesn't "
                                       f"match the {what} {getattr(p, what)} of the corresponding primal.")
        with _level():
            return tree_unflatten(_jv(out_leaves, us, jtu, t_leaves, cg, retain_graph=True), out_spec)

    return (out if cg else tree_map(_detach, out)), jvp_fn


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of ``func`` with respect to ``args[argnums]``, the same result as torch's
    forward-mode ``jacfwd``; plugtorch has reverse mode only, so this computes it as
    :func:`jacrev` does (one vjp per output element). With ``randomness="error"`` a function that
    draws random numbers raises, as torch's (which vmaps over the basis) does.

    >>> jacfwd(lambda x: x * 3)(pt.tensor([1.0])).tolist()
    [[3.0]]
    """
    from plugtorch.func._vmap import _check_randomness, _randomness
    _check_randomness(randomness)
    inner = jacrev(func, argnums, has_aux=has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        positions, _ = _argnums(argnums, len(args))
        _check_forward_primals([args[i] for i in positions])
        with _randomness(randomness, []):
            return inner(*args, **kwargs)
    return wrapper


def hessian(func, argnums=0):
    """The Hessian of a scalar ``func`` with respect to ``args[argnums]``: jacfwd(jacrev(func)).

    >>> hessian(lambda x: (x ** 3).sum())(pt.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return jacfwd(jacrev(func, argnums), argnums)
