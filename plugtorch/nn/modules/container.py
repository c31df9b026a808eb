"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``.

>>> import plugtorch as pt
>>> net = pt.nn.Sequential(pt.nn.Linear(2, 3), pt.nn.ReLU())
>>> len(net), type(net[1]).__name__
(2, 'ReLU')
"""
from __future__ import annotations

import operator
import warnings
from collections import OrderedDict

from plugtorch.nn.modules.module import Module, _addindent
from plugtorch.nn.parameter import Parameter


def _index(n, idx, cls):
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {cls} of length {n}")
    return idx % n


def _describe(p):
    return f"Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape))}]"


class Container(Module):
    """Deprecated (as in PyTorch): a Module holding the keyword arguments as submodules."""

    def __init__(self, **kwargs):
        super().__init__()
        warnings.warn("`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`. "
                      "Subclass that instead.", FutureWarning, stacklevel=2)
        for key, value in kwargs.items():
            self.add_module(key, value)


class Sequential(Module):
    """Runs its modules in order, each on the previous one's output."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(len(self), idx, "Sequential")]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(len(self), idx, "Sequential")]
        setattr(self, key, module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for k in (keys[idx] if isinstance(idx, slice) else [keys[_index(len(self), idx, "Sequential")]]):
            del self._modules[k]
        # renumber "0", "1", ... (named members too), as PyTorch does
        self.__dict__["_modules"] = {str(i): m for i, m in enumerate(self._modules.values())}

    def pop(self, key):
        """Remove and return the module at index ``key``."""
        v = self[key]
        del self[key]
        return v

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        return Sequential(*self, *other)

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        return self.extend(list(other))

    def __mul__(self, other):
        if not isinstance(other, int) or isinstance(other, bool):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(other)}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self)}")
        return Sequential(*(list(self) * other))

    __rmul__ = __mul__

    def __imul__(self, other):
        if not isinstance(other, int) or isinstance(other, bool):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(other)}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self)}")
        return self.extend(list(self) * (other - 1))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (negative counts from the end, as ``list.insert``)."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        mods = list(self._modules.values())
        mods.insert(index, module)
        self.__dict__["_modules"] = {str(i): m for i, m in enumerate(mods)}
        return self

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input


class _ListOf(Module):
    """List behaviour over one of the module's stores, keyed "0", "1", ... (``_modules`` or ``_parameters``)."""

    _store = "_modules"

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def _items(self):
        return self.__dict__[self._store]

    def _renumber(self, values):
        self.__dict__[self._store] = {str(i): v for i, v in enumerate(values)}

    def _set(self, key, value):
        raise NotImplementedError

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._items().values())[idx])
        return self._items()[str(_index(len(self), idx, type(self).__name__))]

    def __setitem__(self, idx, value):
        self._set(str(_index(len(self), idx, type(self).__name__)), value)

    def __delitem__(self, idx):
        values = list(self._items().values())
        del values[idx if isinstance(idx, slice) else _index(len(values), idx, type(self).__name__)]
        self._renumber(values)

    def __len__(self):
        return len(self._items())

    def __iter__(self):
        return iter(self._items().values())

    def __iadd__(self, values):
        return self.extend(values)

    def __add__(self, other):
        return type(self)([*self, *other])

    def pop(self, key):
        """Remove and return the member at index ``key``."""
        v = self[key]
        del self[key]
        return v

    def append(self, value):
        self._set(str(len(self)), value)
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def insert(self, index, value):
        self._set(str(len(self)), value)              # registers (and type-checks) the new member
        values = list(self._items().values())
        values.insert(index, values.pop())
        self._renumber(values)


class ModuleList(_ListOf):
    """A list of modules, registered so their parameters are found; has no ``forward``."""

    def _set(self, key, module):
        self.add_module(key, module)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it and call its modules")

    def __repr__(self):
        # runs of equal members print once, "(0-11): 12 x Block(...)", as PyTorch prints them
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []                                   # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2) for a, b, r in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class _DictOf(Module):
    """Dict behaviour over one of the module's stores (``_modules`` or ``_parameters``)."""

    _store = "_modules"

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.update(values)

    def _items(self):
        return self.__dict__[self._store]

    def __getitem__(self, key):
        return self._items()[key]

    def __delitem__(self, key):
        del self._items()[key]

    def __len__(self):
        return len(self._items())

    def __iter__(self):
        return iter(self._items())

    def __contains__(self, key):
        return key in self._items()

    def keys(self):
        return self._items().keys()

    def items(self):
        return self._items().items()

    def values(self):
        return self._items().values()

    def pop(self, key):
        return self._items().pop(key)

    def clear(self):
        self._items().clear()

    def update(self, values):
        for k, v in (values.items() if hasattr(values, "items") else values):
            self[k] = v


class ModuleDict(_DictOf):
    """A dict of modules by name, registered as submodules."""

    def __setitem__(self, key, module):
        self.add_module(key, module)


class ParameterList(_ListOf):
    """A list of parameters, registered under the names "0", "1", ..."""

    _store = "_parameters"

    def _set(self, key, value):
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def extra_repr(self):
        return "\n".join(f"({i}): {_describe(p)}" for i, p in enumerate(self))


class ParameterDict(_DictOf):
    """A dict of parameters by name."""

    _store = "_parameters"

    def __setitem__(self, key, value):
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def update(self, values):
        # a plain dict is taken in sorted key order, as PyTorch's ParameterDict does (its state_dict order)
        if isinstance(values, dict) and not isinstance(values, OrderedDict):
            values = sorted(values.items())
        super().update(values)

    def get(self, key, default=None):
        return self._items().get(key, default)

    def popitem(self):
        return self._items().popitem()

    def __reversed__(self):
        return reversed(list(self._items()))

    def fromkeys(self, keys, default=None):
        return ParameterDict(OrderedDict((k, default) for k in keys))

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self):
        return ParameterDict(OrderedDict(self.items()))

    def __or__(self, other):
        out = self.copy()
        out.update(other)
        return out

    def __ror__(self, other):
        out = ParameterDict(other)
        out.update(self)
        return out

    def __ior__(self, other):
        self.update(other)
        return self

    def extra_repr(self):
        return "\n".join(f"({k}): {_describe(p)}" for k, p in self.items())
