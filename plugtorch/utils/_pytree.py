"""Pytrees, as ``torch.utils._pytree``: nested containers flattened to their leaves and a
``TreeSpec`` that rebuilds them.

The nodes are tuple, list, dict, namedtuples, OrderedDict, defaultdict and deque, and any type
given to ``register_pytree_node``; everything else (None, numbers, strings, tensors, subclasses
of list or dict) is a leaf. Dicts keep their insertion order, as PyTorch's.

>>> leaves, spec = tree_flatten({"a": 1, "b": [2, (3, None)]})
>>> leaves
[1, 2, 3, None]
>>> tree_unflatten([x if x is None else x * 10 for x in leaves], spec)
{'a': 10, 'b': [20, (30, None)]}
>>> tree_map(lambda x, y: x + y, [1, (2, 3)], [10, (20, 30)])
[11, (22, 33)]
"""
from __future__ import annotations

from collections import OrderedDict, defaultdict, deque, namedtuple
from typing import Any, Callable, NamedTuple

__all__ = ["TreeSpec", "LeafSpec", "register_pytree_node", "tree_flatten", "tree_unflatten", "tree_iter",
           "tree_leaves", "tree_structure", "tree_map", "tree_map_only", "tree_all", "tree_any", "tree_is_leaf",
           "is_namedtuple", "is_namedtuple_class", "is_namedtuple_instance"]


class NodeDef(NamedTuple):
    type: Any
    flatten_fn: Callable      # node -> (children, context)
    unflatten_fn: Callable    # (children, context) -> node


SUPPORTED_NODES: dict = {}


def register_pytree_node(cls, flatten_fn, unflatten_fn, *, serialized_type_name=None, to_dumpable_context=None,
                         from_dumpable_context=None, flatten_with_keys_fn=None) -> None:
    """Make ``cls`` a node: ``flatten_fn(x) -> (children, context)`` and
    ``unflatten_fn(children, context) -> x``. (The serialization and key-path arguments are
    accepted for PyTorch's signature; plugtorch does not serialize specs.)

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ([p.a, p.b], None), lambda kids, ctx: Pair(*kids))
    >>> tree_leaves([Pair(1, [2, 3])])
    [1, 2, 3]
    """
    if cls in SUPPORTED_NODES:
        raise ValueError(f"{cls} is already registered as pytree node.")
    SUPPORTED_NODES[cls] = NodeDef(cls, flatten_fn, unflatten_fn)


def is_namedtuple_class(cls) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)


def is_namedtuple_instance(obj) -> bool:
    return is_namedtuple_class(type(obj))


is_namedtuple = is_namedtuple_instance


def _node_type(tree):
    t = type(tree)
    return namedtuple if is_namedtuple_class(t) else t    # every namedtuple class is a node, as in PyTorch


def tree_is_leaf(tree, is_leaf=None) -> bool:
    """Whether ``tree`` is a leaf: not a node type, or one ``is_leaf`` says to stop at."""
    if is_leaf is not None and is_leaf(tree):
        return True
    return _node_type(tree) not in SUPPORTED_NODES


class TreeSpec:
    """The structure of a pytree: the root's node type, its context (dict keys, a namedtuple's
    class ...) and one spec per child. Printed, compared and hashed as PyTorch's."""
    __slots__ = ("type", "_context", "_children", "num_nodes", "num_leaves", "num_children")

    def __init__(self, type, context, children_specs):
        self.type = type
        self._context = context
        self._children = list(children_specs)
        self.num_children = len(self._children)
        self.num_nodes = 1 + sum(c.num_nodes for c in self._children)
        self.num_leaves = sum(c.num_leaves for c in self._children)

    @property
    def context(self):
        return self._context

    @property
    def children_specs(self) -> list:
        return self._children

    def children(self) -> list:
        return list(self._children)

    def child(self, index: int) -> TreeSpec:
        return self._children[index]

    def is_leaf(self) -> bool:
        return self.num_nodes == 1 and self.num_leaves == 1

    def __repr__(self, indent: int = 0) -> str:
        name = self.type.__name__
        kids = ""
        if self.num_children:
            indent += 2
            kids = self._children[0].__repr__(indent) + ("," if self.num_children > 1 else "")
            kids += ",".join("\n" + " " * indent + c.__repr__(indent) for c in self._children[1:])
        return f"TreeSpec({name}, {self._context}, [{kids}])"

    def __eq__(self, other):
        if self is other:
            return True
        if other.__class__ is not self.__class__:
            return NotImplemented
        return str(self.type) == str(other.type) and self._context == other._context \
            and self._children == other._children

    def __hash__(self):
        try:
            context = hash(self._context)
        except TypeError:                 # (dict keys are a list)
            context = repr(self._context)
        return hash((self.type, context, tuple(self._children)))

    def flatten_up_to(self, tree) -> list:
        """``tree``'s subtrees at this spec's leaves; ValueError where ``tree`` does not have
        this structure down to them."""
        out = []

        def walk(spec, t):
            if spec.is_leaf():
                out.append(t)
                return
            node_type = _node_type(t)
            if spec.type not in _BUILTIN_TYPES:         # a registered type: all must match
                if node_type is not spec.type:
                    raise ValueError(f"Type mismatch; expected {spec.type!r}, but got {node_type!r}.")
                kids, context = SUPPORTED_NODES[node_type].flatten_fn(t)
                if len(kids) != spec.num_children:
                    raise ValueError(f"Node arity mismatch; expected {spec.num_children}, but got {len(kids)}.")
                if context != spec._context:
                    raise ValueError(f"Node context mismatch for custom node type {spec.type!r}.")
            else:
                # (dict, OrderedDict and defaultdict match each other by keys, in any order)
                dicts = spec.type in _DICT_TYPES and node_type in _DICT_TYPES
                if not dicts and node_type is not spec.type:
                    raise ValueError(f"Node type mismatch; expected {spec.type!r}, but got {node_type!r}.")
                if len(t) != spec.num_children:
                    raise ValueError(f"Node arity mismatch; expected {spec.num_children}, but got {len(t)}.")
                if dicts:
                    keys = spec._context if spec.type is not defaultdict else spec._context[1]
                    missing, extra = set(keys) - set(t), set(t) - set(keys)
                    if missing or extra:
                        raise ValueError("Node keys mismatch" + (f"; missing key(s): {missing}" if missing else "")
                                         + (f"; extra key(s): {extra}" if extra else "") + ".")
                    kids = [t[k] for k in keys]
                else:
                    kids, context = SUPPORTED_NODES[node_type].flatten_fn(t)
                    if node_type is not deque and context != spec._context:     # (a deque's maxlen may differ)
                        raise ValueError(f"Node context mismatch for node type {spec.type!r}; expected "
                                         f"{spec._context!r}, but got {context!r}.")
            for s, k in zip(spec._children, kids):
                walk(s, k)
        walk(self, tree)
        return out

    def unflatten(self, leaves):
        """The tree of this structure holding ``leaves``."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} but the spec refers "
                             f"to a pytree that holds {self.num_leaves} items ({self}).")
        it = iter(leaves)

        def build(spec):
            if spec.is_leaf():
                return next(it)
            return SUPPORTED_NODES[spec.type].unflatten_fn([build(c) for c in spec._children], spec._context)
        return build(self)


class LeafSpec(TreeSpec):
    """The spec of a leaf, printed ``*``."""
    __slots__ = ()

    def __init__(self):
        super().__init__(None, None, [])
        self.num_nodes = 1
        self.num_leaves = 1

    def __repr__(self, indent: int = 0) -> str:
        return "*"


_LEAF = LeafSpec()


def tree_flatten(tree, is_leaf=None):
    """``(leaves, treespec)`` of ``tree``: the leaves in order, and the structure that
    ``tree_unflatten`` rebuilds from them.

    >>> tree_flatten((1, {"x": 2}))
    ([1, 2], TreeSpec(tuple, None, [*,
      TreeSpec(dict, ['x'], [*])]))
    """
    leaves = []

    def walk(t):
        if tree_is_leaf(t, is_leaf):
            leaves.append(t)
            return _LEAF
        node_type = _node_type(t)
        kids, context = SUPPORTED_NODES[node_type].flatten_fn(t)
        return TreeSpec(node_type, context, [walk(k) for k in kids])
    return leaves, walk(tree)


def tree_unflatten(leaves, treespec: TreeSpec):
    """The tree of structure ``treespec`` holding ``leaves`` (the inverse of ``tree_flatten``)."""
    if not isinstance(treespec, TreeSpec):
        raise TypeError(f"Expected `treespec` to be an instance of PyTreeSpec but got item of type "
                        f"{type(treespec)}.")
    return treespec.unflatten(leaves)


def tree_iter(tree, is_leaf=None):
    """The leaves of ``tree``, one at a time."""
    if tree_is_leaf(tree, is_leaf):
        yield tree
        return
    for kid in SUPPORTED_NODES[_node_type(tree)].flatten_fn(tree)[0]:
        yield from tree_iter(kid, is_leaf)


def tree_leaves(tree, is_leaf=None) -> list:
    """The leaves of ``tree`` in order.

    >>> tree_leaves([1, [2, {"a": 3}]])
    [1, 2, 3]
    """
    return list(tree_iter(tree, is_leaf))


def tree_structure(tree, is_leaf=None) -> TreeSpec:
    """The ``TreeSpec`` of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def tree_map(func, tree, *rests, is_leaf=None):
    """A tree of ``tree``'s structure with ``func`` applied to each leaf (and to the
    corresponding subtrees of ``rests``, which must have ``tree``'s structure down to its leaves).

    >>> tree_map(lambda x: x + 1, {"a": [1, 2]})
    {'a': [2, 3]}
    """
    leaves, spec = tree_flatten(tree, is_leaf)
    columns = [leaves] + [spec.flatten_up_to(r) for r in rests]
    return spec.unflatten(map(func, *columns))


def _type_pred(types_or_pred):
    if isinstance(types_or_pred, type) or (isinstance(types_or_pred, tuple)
                                           and all(isinstance(t, type) for t in types_or_pred)):
        return lambda x: isinstance(x, types_or_pred)
    if callable(types_or_pred):
        return types_or_pred
    raise TypeError("Argument must be a type, a tuple of types, or a callable.")


def tree_map_only(types_or_pred, /, func, tree, is_leaf=None):
    """``tree_map`` applying ``func`` only to leaves of the given type(s) (or passing the
    predicate); the other leaves are kept."""
    pred = _type_pred(types_or_pred)
    return tree_map(lambda x: func(x) if pred(x) else x, tree, is_leaf=is_leaf)


def tree_all(pred, tree, is_leaf=None) -> bool:
    return all(map(pred, tree_iter(tree, is_leaf)))


def tree_any(pred, tree, is_leaf=None) -> bool:
    return any(map(pred, tree_iter(tree, is_leaf)))


def _dict_unflatten(values, context):
    return dict(zip(context, values))


_DICT_TYPES = (dict, OrderedDict, defaultdict)
_BUILTIN_TYPES = (tuple, list, dict, namedtuple, OrderedDict, defaultdict, deque)
register_pytree_node(tuple, lambda t: (list(t), None), lambda v, c: tuple(v))
register_pytree_node(list, lambda t: (list(t), None), lambda v, c: list(v))
register_pytree_node(dict, lambda d: (list(d.values()), list(d.keys())), _dict_unflatten)
register_pytree_node(namedtuple, lambda t: (list(t), type(t)), lambda v, c: c(*v))
register_pytree_node(OrderedDict, lambda d: (list(d.values()), list(d.keys())),
                     lambda v, c: OrderedDict(zip(c, v)))
register_pytree_node(defaultdict, lambda d: (list(d.values()), [d.default_factory, list(d.keys())]),
                     lambda v, c: defaultdict(c[0], zip(c[1], v)))
register_pytree_node(deque, lambda d: (list(d), d.maxlen), lambda v, c: deque(v, maxlen=c))
