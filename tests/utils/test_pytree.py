"""plugtorch.utils._pytree: flatten, unflatten, map and TreeSpec, as torch.utils._pytree, for
the built-in node types and registered ones; plugtorch.func's trees are these."""
from collections import OrderedDict, defaultdict, deque, namedtuple

import pytest

import plugtorch as pt
from plugtorch.utils import _pytree as P
from plugtorch.utils._pytree import (LeafSpec, TreeSpec, register_pytree_node, tree_all, tree_any, tree_flatten,
                                     tree_leaves, tree_map, tree_map_only, tree_structure, tree_unflatten)

Point = namedtuple("Point", "x y")


def test_flatten_and_unflatten_every_builtin_node():
    tree = {"b": [1, (2, None)], "a": Point(3, 4), "c": OrderedDict(z=5, y=6),
            "d": defaultdict(list, {"q": 7}), "e": deque([8, 9], maxlen=3)}
    leaves, spec = tree_flatten(tree)
    assert leaves == [1, 2, None, 3, 4, 5, 6, 7, 8, 9]             # dicts in insertion order, None a leaf
    assert (spec.num_leaves, spec.num_nodes, spec.num_children) == (10, 17, 5)
    assert spec.type is dict and spec.context == ["b", "a", "c", "d", "e"]
    assert spec.child(1).type is namedtuple and spec.child(1).context is Point
    assert spec.child(3).context == [list, ["q"]] and spec.child(4).context == 3
    back = tree_unflatten(list(range(10)), spec)
    assert back == {"b": [0, (1, 2)], "a": Point(3, 4), "c": OrderedDict(z=5, y=6),
                    "d": defaultdict(list, {"q": 7}), "e": deque([8, 9], maxlen=3)}
    assert type(back["c"]) is OrderedDict and back["d"].default_factory is list and back["e"].maxlen == 3
    assert list(back) == ["b", "a", "c", "d", "e"]


@pytest.mark.parametrize("leaf", [None, 5, "abc", 2.5, b"x"])
def test_leaves(leaf):
    leaves, spec = tree_flatten(leaf)
    assert leaves == [leaf] and isinstance(spec, LeafSpec) and spec.is_leaf() and repr(spec) == "*"
    assert tree_unflatten([7], spec) == 7


def test_subclasses_of_list_and_tensors_are_leaves():
    class MyList(list):
        pass
    t = pt.ones(2)
    leaves, spec = tree_flatten([MyList([1, 2]), t])
    assert leaves[1] is t and isinstance(leaves[0], MyList) and spec.num_leaves == 2


def test_treespec_repr_as_pytorchs():
    assert repr(tree_structure([1, 2])) == "TreeSpec(list, None, [*,\n  *])"
    assert str(tree_structure((1,))) == "TreeSpec(tuple, None, [*])"
    assert repr(tree_structure({"b": 1, "a": [2, (3, None)]})) == (
        "TreeSpec(dict, ['b', 'a'], [*,\n  TreeSpec(list, None, [*,\n    TreeSpec(tuple, None, [*,\n      *])])])")
    assert repr(tree_structure(Point(1, [2]))) == (
        f"TreeSpec(namedtuple, {Point!r}, [*,\n  TreeSpec(list, None, [*])])")
    assert repr(tree_structure([])) == "TreeSpec(list, None, [])"
    assert repr(tree_structure(defaultdict(int, {"a": 1}))) == "TreeSpec(defaultdict, [<class 'int'>, ['a']], [*])"


def test_treespec_equality_and_hash():
    assert tree_structure([1, [2]]) == tree_structure([3, [4]])
    assert hash(tree_structure({"a": 1})) == hash(tree_structure({"a": 9}))
    assert tree_structure([1, 2]) != tree_structure((1, 2))
    assert tree_structure({"a": 1, "b": 2}) != tree_structure({"b": 1, "a": 2})    # key order counts
    assert tree_structure({"a": 1}) != tree_structure(OrderedDict(a=1))
    assert tree_structure(Point(1, 2)) != tree_structure((1, 2))
    assert len({tree_structure([1, 2]), tree_structure([5, 6]), tree_structure((1,))}) == 2


def test_tree_map_leaves_structure():
    assert tree_map(lambda x: x * 10, {"a": [1, 2], "b": (3,)}) == {"a": [10, 20], "b": (30,)}
    assert tree_map(lambda x, y: x + y, [1, (2, 3)], [10, (20, 30)]) == [11, (22, 33)]
    # rests need the structure only down to the first tree's leaves; dict kinds match by keys
    assert tree_map(lambda x, y: (x, y), [1, 2], [[5, 6], {"a": 7}]) == [(1, [5, 6]), (2, {"a": 7})]
    assert tree_map(lambda x, y: x + y, {"a": 1, "b": 2}, OrderedDict(b=20, a=10)) == {"a": 11, "b": 22}
    assert tree_leaves([1, [2, {"a": 3}]]) == [1, 2, 3]
    assert tree_leaves([1, [2]], is_leaf=lambda x: x == [2]) == [1, [2]]
    assert tree_map_only(int, lambda x: x + 1, [1, 2.0, "a", (3,)]) == [2, 2.0, "a", (4,)]
    assert tree_all(lambda x: x > 0, [1, [2]]) and not tree_any(lambda x: x > 5, [1, [2]])
    assert tree_structure([1, [2]]).unflatten([5, 6]) == [5, [6]]


def test_errors_as_pytorchs():
    spec = tree_structure([1, 2])
    with pytest.raises(ValueError, match=r"`leaves` has length 3 but the spec refers to a pytree that holds 2 items"):
        tree_unflatten([1, 2, 3], spec)
    with pytest.raises(TypeError, match="Expected `treespec` to be an instance of PyTreeSpec but got item of type "
                                        "<class 'int'>"):
        tree_unflatten([1], 5)
    with pytest.raises(ValueError, match=r"Node arity mismatch; expected 2, but got 3\."):
        tree_map(lambda x, y: x + y, [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match=r"Node type mismatch; expected <class 'list'>, but got <class 'tuple'>\."):
        tree_map(lambda x, y: x + y, [1, 2], (1, 2))
    with pytest.raises(ValueError, match=r"Node keys mismatch; missing key\(s\): \{'a'\}; extra key\(s\): \{'b'\}\."):
        tree_map(lambda x, y: x + y, {"a": 1}, {"b": 1})


def test_register_pytree_node():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    register_pytree_node(Pair, lambda p: ([p.a, p.b], "ctx"), lambda kids, ctx: Pair(*kids))
    try:
        leaves, spec = tree_flatten([Pair(1, [2, 3])])
        assert leaves == [1, 2, 3]
        assert repr(spec) == "TreeSpec(list, None, [TreeSpec(Pair, ctx, [*,\n    TreeSpec(list, None, [*,\n      *])])])"
        (p,) = tree_unflatten([9, 8, 7], spec)
        assert isinstance(p, Pair) and p.a == 9 and p.b == [8, 7]
        with pytest.raises(ValueError, match="is already registered as pytree node"):
            register_pytree_node(Pair, lambda p: ([], None), lambda kids, ctx: Pair(0, 0))
        doubled = pt.func.vmap(lambda p: Pair(p.a * 2, p.b))(Pair(pt.tensor([1.0, 2.0]), pt.tensor([3.0, 4.0])))
        assert doubled.a.tolist() == [2.0, 4.0] and doubled.b.tolist() == [3.0, 4.0]
    finally:
        del P.SUPPORTED_NODES[Pair]


def test_func_uses_these_trees():
    # an OrderedDict argument and result are trees for the transforms, as in PyTorch
    out = pt.func.vmap(lambda d: OrderedDict(s=d["x"] + d["y"]))(OrderedDict(x=pt.tensor([1.0, 2.0]),
                                                                             y=pt.tensor([10.0, 20.0])))
    assert type(out) is OrderedDict and out["s"].tolist() == [11.0, 22.0]
    assert isinstance(tree_structure([1]), TreeSpec)


def test_docstring_examples():
    import doctest
    assert doctest.testmod(P).failed == 0
