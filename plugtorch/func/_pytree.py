"""The nested containers ``plugtorch.func`` maps over: tuples, lists, dicts (and namedtuples).

A tree flattens to its leaves (everything that is not one of those containers) and a spec that
rebuilds it; ``broadcast_prefix`` spreads a prefix tree (vmap's ``in_dims``, ``out_dims``) over
a tree's leaves.

>>> leaves, spec = tree_flatten({"a": 1, "b": [2, 3]})
>>> leaves, tree_unflatten([x * 10 for x in leaves], spec)
([1, 2, 3], {'a': 10, 'b': [20, 30]})
"""
from __future__ import annotations

LEAF = None   # the spec of a leaf


def _children(tree):
    """(kind, context, children) for a container, or None for a leaf."""
    cls = tree.__class__
    if cls is tuple or cls is list:
        return cls, None, list(tree)
    if cls is dict:
        keys = list(tree)
        return dict, keys, [tree[k] for k in keys]
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):   # a namedtuple
        return cls, None, list(tree)
    return None


def tree_flatten(tree):
    """(leaves, spec) of ``tree``, leaves in order (dicts in insertion order)."""
    leaves = []

    def walk(t):
        node = _children(t)
        if node is None:
            leaves.append(t)
            return LEAF
        kind, ctx, kids = node
        return (kind, ctx, tuple(walk(k) for k in kids))
    return leaves, walk(tree)


def tree_unflatten(leaves, spec):
    it = iter(leaves)

    def build(s):
        if s is LEAF:
            return next(it)
        kind, ctx, kids = s
        vals = [build(k) for k in kids]
        if kind is dict:
            return dict(zip(ctx, vals))
        if kind is tuple or kind is list:
            return kind(vals)
        return kind(*vals)   # a namedtuple
    return build(spec)


def tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def spec_str(spec) -> str:
    """A short text of a spec for error messages: ``(*, [*, *], {'a': *})``."""
    if spec is LEAF:
        return "*"
    kind, ctx, kids = spec
    inner = [spec_str(k) for k in kids]
    if kind is dict:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(ctx, inner)) + "}"
    if kind is list:
        return "[" + ", ".join(inner) + "]"
    if kind is tuple:
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
    return f"{kind.__name__}(" + ", ".join(inner) + ")"


def broadcast_prefix(prefix, tree):
    """One value of ``prefix`` per leaf of ``tree``: a prefix leaf covers the subtree under it.
    None when ``prefix`` is not a prefix of ``tree``'s structure."""
    out = []

    def walk(p, t):
        pn = _children(p)
        if pn is None:
            out.extend([p] * len(tree_flatten(t)[0]))
            return True
        tn = _children(t)
        if tn is None or pn[0] is not tn[0] or pn[1] != tn[1] or len(pn[2]) != len(tn[2]):
            return False
        return all(walk(a, b) for a, b in zip(pn[2], tn[2]))
    return out if walk(prefix, tree) else None
