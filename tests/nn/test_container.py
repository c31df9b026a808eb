"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from collections import OrderedDict

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn


def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    x = pt.randn(4, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(), c(b(a(x))).detach().numpy())
    assert seq[0] is a and seq[-1] is c and len(seq) == 3
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b, c]
    named = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert named.fc is a and [n for n, _ in named.named_children()] == ["fc", "act"]
    seq.append(nn.Tanh())
    assert len(seq) == 4 and isinstance(seq[3], nn.Tanh)
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Tanh"]
    assert list(seq._modules) == ["0", "1", "2"]
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and len(seq) == 4
    with pytest.raises(IndexError, match="index 9 is out of range for Sequential of length 4"):
        seq[9]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity) and len(list(layers.parameters())) == 4
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    tanh = nn.Tanh()
    layers.insert(1, tanh)
    assert layers[1] is tanh and list(layers._modules) == ["0", "1", "2", "3", "4"]
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        layers.insert(0, 3)
    assert len(layers) == 5
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        layers(pt.ones(1))


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.ReLU()})
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    d["c"] = nn.Linear(2, 2)
    assert len(list(d.parameters())) == 4
    assert isinstance(d.pop("b"), nn.ReLU) and list(d) == ["a", "c"]
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        d["x"] = 3


def test_parameter_list_and_dict():
    pl = nn.ParameterList([pt.ones(2), nn.Parameter(pt.zeros(3))])
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pl.append(pt.ones(1))
    assert len(pl) == 3
    pd = nn.ParameterDict({"w": pt.ones(2)})
    pd["b"] = pt.zeros(1)
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = pl
            self.pd = pd
    assert sorted(Holder().state_dict()) == ["pd.b", "pd.w", "ps.0", "ps.1", "ps.2"]


def test_deprecated_container():
    with pytest.warns(FutureWarning, match="nn.Container` is deprecated"):
        c = nn.Container(a=nn.ReLU(), b=nn.Linear(2, 3))
    assert [n for n, _ in c.named_children()] == ["a", "b"] and list(c.state_dict()) == ["b.weight", "b.bias"]


def test_sequential_item_assignment_keeps_the_order():
    # s[0] = m used to move the new module to the end, so forward ran it last
    s = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Tanh())
    lin = nn.Linear(1, 1)
    with pt.no_grad():
        lin.weight.fill_(-2.0)
        lin.bias.fill_(0.0)
    s[0] = lin
    assert list(s._modules) == ["0", "1", "2"] and s[0] is lin
    assert s(pt.tensor([[1.0]])).item() == 0.0          # relu(-2) = 0, then tanh(0) = 0
    assert [k for k in s.state_dict()] == ["0.weight", "0.bias"]


def test_sequential_insert_pop_add_mul():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a, b)
    s.insert(-1, c)                                      # before the last one, as list.insert
    assert list(s) == [a, c, b] and list(s._modules) == ["0", "1", "2"]
    with pytest.raises(IndexError, match="Index out of range: 5"):
        s.insert(5, nn.ReLU())
    with pytest.raises(AssertionError, match="module should be of type"):
        s.insert(0, 3)
    assert s.pop(1) is c and list(s) == [a, b]
    assert list(s + nn.Sequential(c)) == [a, b, c]
    assert list(s * 2) == [a, b, a, b] and list(2 * s) == [a, b, a, b]
    with pytest.raises(ValueError, match="Non-positive multiplication factor 0"):
        s * 0
    with pytest.raises(ValueError, match="supports only objects of Sequential"):
        s + nn.ModuleList([c])
    named = nn.Sequential(OrderedDict([("x", a), ("y", b), ("z", c)]))
    del named[0]
    assert list(named._modules) == ["0", "1"]            # renumbered, as PyTorch does


def test_module_list_pop_add_and_parameter_dict_order():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    ml = nn.ModuleList([a, b, c])
    assert ml.pop(1) is b and list(ml) == [a, c] and list(ml._modules) == ["0", "1"]
    assert list(ml + nn.ModuleList([b])) == [a, c, b]
    pd = nn.ParameterDict({"b": pt.ones(1), "a": pt.zeros(2)})
    assert list(pd.keys()) == ["a", "b"]                 # a plain dict is taken in sorted order
    assert pd.get("zz", 5) == 5 and pd.get("a").shape == (2,)
    assert pd.setdefault("c", pt.ones(3)).shape == (3,) and isinstance(pd["c"], nn.Parameter)
    merged = pd | nn.ParameterDict(OrderedDict([("z", pt.ones(1))]))
    assert list(merged.keys()) == ["a", "b", "c", "z"] and list(pd.keys()) == ["a", "b", "c"]


def test_parameter_dict_repr_lists_its_parameters():
    pd = nn.ParameterDict({"w": pt.ones(2, 3)})
    assert repr(pd) == "ParameterDict((w): Parameter containing: [plugtorch.float32 of size 2x3])"


def test_module_list_repr_folds_runs_of_equal_modules():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)] + [nn.ReLU(), nn.Linear(1, 1)])
    assert repr(ml) == ("ModuleList(\n"
                        "  (0-2): 3 x Linear(in_features=1, out_features=1, bias=True)\n"
                        "  (3): ReLU()\n"
                        "  (4): Linear(in_features=1, out_features=1, bias=True)\n)")
    assert repr(nn.ModuleList()) == "ModuleList()"
    pd = nn.ParameterDict(OrderedDict([("a", pt.ones(1)), ("b", pt.ones(2))]))
    assert list(reversed(pd)) == ["b", "a"] and pd.popitem()[0] == "b" and list(pd) == ["a"]
