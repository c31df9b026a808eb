"""The pytrees ``plugtorch.func`` maps over (``plugtorch.utils._pytree``: tuples, lists, dicts,
namedtuples, OrderedDict, defaultdict, deque and registered types), with what the transforms
add: ``spec_str`` for error messages, and ``broadcast_prefix``, which spreads a prefix tree
(vmap's ``in_dims``, ``out_dims``) over a tree's leaves.

>>> leaves, spec = tree_flatten({"a": 1, "b": [2, 3]})
>>> leaves, tree_unflatten([x * 10 for x in leaves], spec)
([1, 2, 3], {'a': 10, 'b': [20, 30]})
"""
from __future__ import annotations

from collections import namedtuple

from plugtorch.utils._pytree import SUPPORTED_NODES, _node_type, tree_flatten, tree_is_leaf, tree_map, \
    tree_unflatten  # noqa: F401


def spec_str(spec) -> str:
    """A short text of a spec for error messages: ``(*, [*, *], {'a': *})``."""
    if spec.is_leaf():
        return "*"
    inner = [spec_str(k) for k in spec.children()]
    if spec.type is dict:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(spec.context, inner)) + "}"
    if spec.type is list:
        return "[" + ", ".join(inner) + "]"
    if spec.type is tuple:
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
    name = spec.context.__name__ if spec.type is namedtuple else spec.type.__name__
    return f"{name}(" + ", ".join(inner) + ")"


def broadcast_prefix(prefix, tree):
    """One value of ``prefix`` per leaf of ``tree``: a prefix leaf covers the subtree under it.
    None when ``prefix`` is not a prefix of ``tree``'s structure."""
    out = []

    def walk(p, t):
        if tree_is_leaf(p):
            out.extend([p] * tree_flatten(t)[1].num_leaves)
            return True
        if tree_is_leaf(t) or _node_type(p) is not _node_type(t):
            return False
        p_kids, p_ctx = SUPPORTED_NODES[_node_type(p)].flatten_fn(p)
        t_kids, t_ctx = SUPPORTED_NODES[_node_type(t)].flatten_fn(t)
        if p_ctx != t_ctx or len(p_kids) != len(t_kids):
            return False
        return all(walk(a, b) for a, b in zip(p_kids, t_kids))
    return out if walk(prefix, tree) else None
