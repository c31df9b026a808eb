"""plugtorch.compile: trace on the first call of each input signature, replay the graph after.

A compiled function keeps a bounded cache of graphs keyed by guards: the structure of the call's
arguments and, for each tensor, its device, dtype, shape, strides and requires_grad; grad mode;
the training mode of modules; and the options of the optimizers whose parameters the graph
updates. A call that matches no entry is traced (it runs eagerly while it is recorded) and its
graph is used from the next matching call on.

Where the call reads tensor data into Python (``.item()``, ``bool(t)``, ``.tolist()``) or an op's
result's shape depends on the data (``nonzero``, a boolean mask), the graph holds a guard: the
replay reads the data (or the shape) again and stops, before anything it cannot undo, unless it
is what the trace saw; the call is then traced again. Up to ``DATA_VARIANT_LIMIT`` graphs of a
signature are kept, one per data seen there, and a call tries them in turn (eager once all are
taken and none fits). A read the replay cannot repeat (``numpy()``) or that follows an in-place
write is a graph break (``fullgraph=True`` makes it an error). At a break, and where the data
read keeps changing, the function is split before the top-level statement holding the read
(``resume``): the statements before it replay as a graph, the rest runs as Python; where it
cannot be split, the signature runs eagerly.
A trace that left a tensor it computed in Python state (an optimizer creating its state on the
first step) is not replayable either; it is traced again on the next call, which normally finds
the state in place.

>>> import plugtorch as pt
>>> f = pt.compile(lambda x: x * 2 + 1)
>>> f(pt.ones(2)).tolist(), f(pt.ones(2)).tolist()
([3.0, 3.0], [3.0, 3.0])
>>> pt.compiler.stats()["graphs"] >= 1
True
"""
from __future__ import annotations

import functools
import math
from itertools import chain as _chain
from operator import is_ as _is
import os
import sys
import sysconfig
import weakref
from dataclasses import dataclass, field

import numpy as _np

from plugtorch import _device, _dtypes
from plugtorch._tensor import Tensor
from plugtorch.dispatch import dispatcher as D

_DTYPE_DEFAULT = _dtypes._default       # (thread-local: .value)
_DEVICE_DEFAULT = _device._default      # (thread-local: .device once set)

CACHE_SIZE_LIMIT = 8          # graphs per compiled function (as torch._dynamo.config.cache_size_limit)
RETRACE_LIMIT = 3             # traces of one signature whose graph was not replayable, before eager

DATA_VARIANT_LIMIT = 4        # graphs of one signature differing in a data-dependent shape or read
# a guarded value (an optimizer's learning rate, a Python number the function reads) that
# changes this many times in a row with fewer than CHURN_REPLAYS replays between changes (a
# scheduler or a counter moved at every call) makes the signature eager; it compiles again once
# those values stay the same for CHURN_SETTLE calls
CHURN_LIMIT = 3
CHURN_REPLAYS = 8
CHURN_SETTLE = 32
from plugtorch.jit.executor import GuardFailure as _GuardFailure  # noqa: E402
from plugtorch.jit.executor import DataMiss as _DataMiss  # noqa: E402
from plugtorch.jit.executor import InputsAlias as _InputsAlias  # noqa: E402
from plugtorch.compiler import decorators as _decorators  # noqa: E402
from plugtorch.compiler.decorators import (allow_in_graph, assume_constant_result, disable,  # noqa: E402,F401
                                           is_compiling, is_dynamo_compiling, is_exporting)

_COMPILED = weakref.WeakSet()
_COUNTERS = {"graphs": 0, "graph_breaks": 0, "recompiles": 0, "eager_calls": 0, "compiled_calls": 0,
             "traced_calls": 0}
_REASONS: list = []


def stats() -> dict:
    """Counters since the last ``reset()``: graphs built, graph breaks, recompiles, calls run compiled,
    eagerly and while tracing; ``reasons`` lists why each break and recompile happened."""
    out = dict(_COUNTERS)
    out["reasons"] = list(_REASONS)
    return out


def reset() -> None:
    """Forget every compiled graph (each compiled function traces again) and the counters."""
    for c in list(_COMPILED):
        c._cache.clear()
        c._order.clear()
        c._hot = None
        c._dropped = 0
    for k in _COUNTERS:
        _COUNTERS[k] = 0
    _REASONS.clear()


def _note(kind, reason):
    _REASONS.append(f"{kind}: {reason}")
    if len(_REASONS) > 1000:
        del _REASONS[:500]


_MODULE = None


def _module():
    global _MODULE
    if _MODULE is None:
        from plugtorch.nn.modules import module
        _MODULE = module
    return _MODULE


def traced_inputs(graph, args, kwargs):
    from plugtorch.jit.tracer import flatten_tensors
    return flatten_tensors(args, kwargs)[0]


@dataclass
class _Entry:
    state: str                     # "compiled", "eager" or "retrace"
    traced: object = None          # the TracedFunction
    reason: str = ""
    traces: int = 0
    optimizers: list = field(default_factory=list)
    fingerprint: tuple = ()
    run: object = None
    key: tuple = ()
    pystate: list = field(default_factory=list)    # python_state of the traced call
    variants: list = field(default_factory=list)   # other (traced, run) of this key: other data seen
    churn: int = 0                 # option changes in a row, each after few replays
    calls_at_trace: int = 0        # compiled calls counted when this entry was last traced
    settle: object = None          # (fingerprint, calls with those options) while eager for churn
    split: object = None           # state "split": the resume.Split the calls run (a graph, then Python)
    hot: object = None             # (what it was made for, the hot function): _hot_function's last


_SIMPLE = (int, float, bool, str, complex, type(None))
_DICT, _CELL, _LEN = 0, 1, 2
_ARRAY = 8             # a NumPy array plugtorch.tensor() copied in the traced call: (_ARRAY, array, name, (shape, bytes))
_IDENT = 4             # (kind | _IDENT: the same object, by identity: a tensor, a module, a function)
_CONTAINERS = (list, dict, set)


def _simple(v) -> bool:
    return type(v) in _SIMPLE or (type(v) is tuple and len(v) <= 8 and all(type(x) in _SIMPLE for x in v))


def _code_names(code, out):
    out.update(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            _code_names(c, out)
    return out


def _plain_object(v) -> bool:
    """An instance of a user-level class holding its state in ``__dict__`` (a scheduler, a config):
    not a module of code, class, function or tensor."""
    import types
    return hasattr(v, "__dict__") and not isinstance(v, (type, types.ModuleType, types.FunctionType,
                                                         types.MethodType, types.BuiltinFunctionType, Tensor))


def _slotted_object(v) -> bool:
    """An instance of a user-level class keeping its attributes in ``__slots__`` (a
    ``@dataclass(slots=True)`` config): no ``__dict__`` to read them from."""
    import types
    return hasattr(type(v), "__slots__") and not isinstance(v, (type, types.ModuleType, types.FunctionType, Tensor,
                                                                  tuple, list, dict, set, frozenset, str, bytes))


class _Attrs:
    """An object's attributes seen as a globals dict (``get(name, default)``): its slots, which
    are not in a ``__dict__``."""
    __slots__ = ("o",)

    def __init__(self, o):
        self.o = o

    def get(self, k, default):
        try:
            return getattr(self.o, k)
        except AttributeError:     # (a slot deleted since)
            return default


def _descriptor_entries(entries, o, names):
    """Guard the slots of ``o`` whose names the code reads and whose values are numbers or strings
    (``cfg.scale`` of a ``@dataclass(slots=True)``). Not properties: reading one runs the program's
    code, which may have effects (a property handing out the next batch), at every call."""
    import inspect
    import types
    cls, view = type(o), None
    for key in sorted(names):
        attr = inspect.getattr_static(cls, key, None)
        if not isinstance(attr, types.MemberDescriptorType):
            continue
        view = view or _Attrs(o)
        v = view.get(key, _MISSING)
        if _simple(v):
            entries.append((_DICT, view, key, v))


_CALLED_LIMIT = 32     # user functions python_state reads besides the compiled one
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIB_DIRS = tuple(sorted({os.path.abspath(p) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")
                          for p in [sysconfig.get_paths().get(key)] if p}
                         | {os.path.abspath(p) + os.sep for p in (sys.base_prefix, sys.prefix)
                            if os.path.abspath(p) != "/"}))


def _user_code(f) -> bool:
    """Whether function ``f`` is the program's own code: not plugtorch's, the standard library's
    or an installed package's (their module-level values are not the program's settings)."""
    code = getattr(f, "__code__", None)
    if code is None:
        return False
    fn = code.co_filename
    return not (fn.startswith(_PKG_DIR) or fn.startswith(_LIB_DIRS) or fn.startswith("<frozen"))


def python_state(fn, deep=False, args=(), kwargs=None) -> list:
    """The Python values a traced call followed that no tensor guard sees: the numbers, strings
    and tuples of them that ``fn``'s code reads from its globals and closure, and the plain
    attributes (``p``, ``eps``, ``momentum`` ...) of every module it reaches that way (or is).
    The code read is ``fn``'s and that of the program's own functions it reaches by name (a
    helper it calls, every method of a module class the program defined), up to
    _CALLED_LIMIT of them; plugtorch's and installed packages' code is not read.
    Entries ``(kind, dict or cell, key, value)``.
    Of the other objects it reads so or gets as arguments (``args``, ``kwargs``: a config, a
    trainer, an argparse namespace), the attributes whose names the code reads (``cfg.scale``).
    ``deep``: all their plain attributes (an LR scheduler's ``last_epoch``), and the lengths of
    the lists, dicts and sets among all those values (a list of losses appended to), to tell
    whether a traced call changed them."""
    import types
    Module = _module().Module
    entries, modules, objects = [], [], []
    funcs, seen_funcs = [], set()

    def add_func(f):
        f = getattr(f, "__func__", f)
        if isinstance(f, types.FunctionType) and id(f) not in seen_funcs and len(funcs) <= _CALLED_LIMIT:
            seen_funcs.add(id(f))
            funcs.append(f)
    if isinstance(fn, Module):
        modules.append(fn)
    if isinstance(getattr(fn, "__self__", None), Module):
        modules.append(fn.__self__)
    elif isinstance(fn, types.MethodType) and _plain_object(fn.__self__):
        args = (fn.__self__,) + tuple(args)      # (a method of a trainer: its attributes as an argument's)
    add_func(fn)

    def visit(kind, where, name, v, first):
        """A value the code reads by ``name`` from ``where`` (a globals dict or a closure cell)."""
        if _simple(v):
            entries.append((kind, where, name, v))
            return
        if _bound_object(v):
            entries.append((kind | _IDENT, where, name, v))
        elif type(v) in _ITEMS or isinstance(v, dict):   # (the same list, dict (OrderedDict ...), tuple; its items)
            entries.append((kind | _IDENT, where, name, v))
            _items(entries, v, name, 0)
        elif not isinstance(v, types.ModuleType):
            # any other object by identity: one rebound in its place (an immutable namedtuple
            # config replaced by cfg._replace(...), another enum member, a NumPy scalar, a
            # Fraction) was baked in, its attributes being no one's to compare
            entries.append((kind | _IDENT, where, name, v))
        if deep and type(v) in _CONTAINERS:
            entries.append((_LEN, v, name, len(v)))
        elif isinstance(v, Module):
            modules.append(v)
        elif isinstance(v, types.FunctionType):
            if _user_code(v):
                add_func(v)
        elif _plain_object(v) or _slotted_object(v):
            objects.append((v, deep and first))
    for a in list(args) + list((kwargs or {}).values()):   # (and the items of list, tuple and dict arguments)
        for v in (a if type(a) in (list, tuple) else a.values() if type(a) is dict else (a,)):
            if isinstance(v, Module):
                modules.append(v)
            elif _plain_object(v) or _slotted_object(v):
                objects.append((v, deep))
            elif deep and type(v) in _CONTAINERS:
                entries.append((_LEN, v, "an argument", len(v)))
    seen_glb = set()
    seen = set()
    k = 0
    while True:
        while k < len(funcs):
            func = funcs[k]
            first = k == 0
            k += 1
            code = func.__code__
            glb = func.__globals__
            for name in sorted(_code_names(code, set())):
                if name in glb and (id(glb), name) not in seen_glb:
                    seen_glb.add((id(glb), name))
                    visit(_DICT, glb, name, glb[name], first)
            for name, cell in zip(code.co_freevars, func.__closure__ or ()):
                try:
                    v = cell.cell_contents
                except ValueError:      # (not yet bound)
                    continue
                visit(_CELL, cell, name, v, first)
        grew = False
        while modules:
            m = modules.pop()
            for sub in m.modules():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                d = sub.__dict__
                for key, v in d.items():
                    if key[0] != "_" and key != "training" and _simple(v):
                        entries.append((_DICT, d, key, v))
                    elif key[0] != "_" and isinstance(v, Tensor):     # a plain tensor attribute
                        entries.append((_DICT | _IDENT, d, key, v))
                    elif deep and key[0] != "_" and type(v) in _CONTAINERS:
                        entries.append((_LEN, v, key, len(v)))
                # the methods of a module class the program defined (forward, the helpers it
                # calls on self): their globals
                n = len(funcs)
                for cls in type(sub).__mro__:
                    for f in vars(cls).values():
                        if isinstance(f, types.FunctionType) and _user_code(f):
                            add_func(f)
                # and its hooks (a forward hook scaling by a setting the program changes)
                for hooks in (d.get("_forward_pre_hooks"), d.get("_forward_hooks"), d.get("_backward_pre_hooks"),
                              d.get("_backward_hooks")):
                    for f in (hooks.values() if hooks else ()):
                        if _user_code(getattr(f, "__func__", f)):
                            add_func(f)
                grew = grew or len(funcs) > n
        if not grew and k >= len(funcs):
            break
    names = set()      # (the attribute names the code reads: an object's others are not its business)
    for f in funcs:
        _code_names(f.__code__, names)
    full = {id(o) for o, every in objects if every}
    seen_obj = set()
    for o, _ in objects:
        if id(o) in seen_obj:
            continue
        seen_obj.add(id(o))
        _descriptor_entries(entries, o, names)
        d = getattr(o, "__dict__", None)
        if type(d) is not dict:
            continue
        every = id(o) in full
        for key, v in d.items():
            if not every and key not in names:
                continue
            if _simple(v):
                entries.append((_DICT, d, key, v))
            elif every and type(v) in _CONTAINERS:
                entries.append((_LEN, v, key, len(v)))
            elif key in names and _bound_object(v) and not isinstance(v, Tensor):
                entries.append((_DICT | _IDENT, d, key, v))     # (cfg.act = F.gelu: the code traced the old one)
    return _Snapshot(entries)


class _Snapshot(list):
    """``python_state``'s entries; ``same``, made at the first check, is their usual case as
    generated code: every value still the object traced (~0.2 us for a small training step's 7
    entries, against ~0.7 us for ``_first_change``'s loop, at every compiled call)."""
    same = None


@functools.lru_cache(maxsize=256)
def _check_code(source):
    # (snapshots of one structure share their text: names are bound, values never written in)
    import builtins   # (this module defines its own compile)
    return builtins.compile(source, "<plugtorch.compile check>", "exec")


def _generated(body, ns):
    """A function returning ``body`` (an expression over the names in ``ns``), False where it
    raises ValueError (an empty closure cell)."""
    src = f"def same():\n    try:\n        return {body or 'True'}\n    except ValueError:\n        return False\n"
    exec(_check_code(src), ns)
    return ns["same"]


def _identity_check(entries):
    ns = {"_M": _MISSING}
    conds = []
    for i, (kind, c, k, v) in enumerate(entries):
        ns[f"c{i}"], ns[f"k{i}"], ns[f"v{i}"] = c, k, v
        if kind == _ARRAY:
            ns["_same_array"] = _same_array
            conds.append(f"_same_array(c{i}, v{i})")
        elif kind == _LEN:
            conds.append(f"len(c{i}) == v{i}")
        elif kind & 1 == _DICT:
            conds.append(f"c{i}.get(k{i}, _M) is v{i}")
        else:
            conds.append(f"c{i}.cell_contents is v{i}")
    return _generated(" and ".join(conds), ns)


_ITEMS = (list, dict, tuple)
_ITEM_LIMIT = 256      # items of one container guarded one by one (a longer one: its first 256)


class _Item:
    """The key of a container item's guard: ``get`` by index or key, shown as ``name[key]``."""
    __slots__ = ("name", "key")

    def __init__(self, name, key):
        self.name, self.key = name, key

    def __str__(self):
        return f"{self.name}[{self.key!r}]"


class _View:
    """A list, tuple or dict seen as a globals dict (``get(item, default)``), so that its items'
    guards are entries like the others."""
    __slots__ = ("c",)

    def __init__(self, c):
        self.c = c

    def get(self, item, default):
        c, k = self.c, item.key
        if isinstance(c, dict):
            return c.get(k, default)
        return c[k] if k < len(c) else default


def _items(entries, c, name, depth):
    """Guard the items of container ``c`` the code reads as ``name``: numbers and strings by value,
    tensors, NumPy arrays, modules, optimizers and functions by identity, nested lists and dicts
    likewise (two levels), and a list's or dict's length (``losses[-1]`` after an append)."""
    view = _View(c)
    if type(c) is not tuple:
        entries.append((_LEN, c, name, len(c)))
    pairs = c.items() if isinstance(c, dict) else enumerate(c)
    for n, (k, x) in enumerate(pairs):
        if n >= _ITEM_LIMIT:
            break
        if _simple(x):
            entries.append((_DICT, view, _Item(name, k), x))
        elif _bound_object(x) or type(x) in _ITEMS or type(x) is _np.ndarray:
            # (an array rebound in its place: from_numpy(cfg["mask"]) made the captured tensor of
            # the one traced)
            entries.append((_DICT | _IDENT, view, _Item(name, k), x))
            if type(x) in _ITEMS and depth < 1:
                _items(entries, x, f"{name}[{k!r}]", depth + 1)


def python_state_changed(entries):
    """The first entry whose value is no longer the one traced, as text, or None."""
    if entries.__class__ is _Snapshot:
        same = entries.same
        if same is None:
            same = entries.same = _identity_check(entries)
        if same():   # (every value the same object: unchanged; else the loop decides)
            return None
    change = _first_change(entries)
    if change is None:
        return None
    what, now, v = change
    return f"the Python value {what} is {now!r} now, traced as {v!r}"


class _Sized:
    def __init__(self, c, n):
        self.text = f"a {type(c).__name__} of {n} items"

    def __repr__(self):
        return self.text


class _Text:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


class _Other:
    def __init__(self, v, traced):
        self.text = f"{'the traced' if traced else 'another'} {type(v).__name__} object"

    def __repr__(self):
        return self.text


def _same_array(a, snap) -> bool:
    return a.shape == snap[0] and a.tobytes() == snap[1]


def _first_change(entries):
    for kind, c, k, v in entries:
        if kind == _ARRAY:
            if not _same_array(c, v):
                return k, _Text("another value"), _Text("the values it held then")
            continue
        if kind == _LEN:
            if len(c) != v:
                return (f"'{k}'" if k else "a closure variable"), _Sized(c, len(c)), _Sized(c, v)
            continue
        if kind & 1 == _DICT:
            now = c.get(k, _MISSING)
        else:
            try:
                now = c.cell_contents
            except ValueError:
                now = _MISSING
        if kind & _IDENT:
            if now is not v:
                return (f"'{k}'" if kind & 1 == _DICT else f"'{k}' (a closure variable)"), _Other(now, False), \
                    _Other(v, True)
            continue
        if now is not v and not _same_value(now, v):
            return (f"'{k}'" if kind == _DICT else f"'{k}' (a closure variable)"), now, v
    return None


def _same_value(a, b) -> bool:
    """Whether Python value ``a`` gives the graph traced with ``b``: equal and of one type, where
    -0.0 is not 0.0 (``x * scale`` differs in the sign of zeros) and nan is nan."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if a != a:
            return b != b
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if type(a) is complex:
        return _same_value(a.real, b.real) and _same_value(a.imag, b.imag)
    if type(a) is tuple:
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    return a == b


def _bound_object(v) -> bool:
    """A value whose identity the graph depends on, guarded by identity where the program reads
    it by name: a tensor (captured), a module or an optimizer (their tensors are captured), a
    function (its code was traced). Not Python modules or classes."""
    import types
    from plugtorch.optim.optimizer import Optimizer
    return isinstance(v, (Tensor, types.FunctionType, types.BuiltinFunctionType, functools.partial, Optimizer,
                          _module().Module))


def _host_rng_states():
    """Python's and NumPy's global random states, to tell whether a traced call drew from them."""
    import random as _pyrandom
    import numpy as _np
    st = _np.random.get_state()      # ('MT19937', keys, pos, has_gauss, cached_gaussian)
    return _pyrandom.getstate(), (st[1].copy(), st[2], st[3], st[4])


def _host_rng_drawn(before) -> str:
    py, npst = _host_rng_states()
    if py != before[0]:
        return "draws from Python's random module (a replay would repeat the traced numbers)"
    import numpy as _np
    if npst[1:] != before[1][1:] or not _np.array_equal(npst[0], before[1][0]):
        return "draws from NumPy's global random generator (a replay would repeat the traced numbers)"
    return ""


def _all_tensors(args) -> bool:
    for a in args:   # (a loop: cheaper than all() over a generator, for a call's few arguments)
        if a.__class__ is not Tensor:
            return False
    return True


def _tensor_key(t):
    d = t._data
    return (t._device, t._dtype, d.shape, getattr(d, "strides", None), t._rg)


def _optimizer_fingerprint(opts) -> tuple:
    """The optimizers' options as (group, key, value object) snapshots, and the ids of each
    group's values (with the values, kept alive so the ids stay theirs); and their state
    (``_state_snapshot``)."""
    return _Fingerprint((o, len(o.param_groups), tuple((g, tuple((k, v) for k, v in g.items() if k != "params"), len(g),
                                                        (tuple(g.values()), list(map(id, g.values()))),
                                                        tuple(g.get("params", ())))
                                                       for g in o.param_groups),
                         o.__dict__.get("_state_epoch", 0), _state_snapshot(o)) for o in opts)


def _state_snapshot(o):
    """``o.state``, each parameter's state dict and every value in them, by identity: a graph
    captured the state tensors, so ``opt.state.clear()``, ``opt.state = defaultdict(dict)`` or
    ``opt.state[p]["momentum_buffer"] = zeros_like(p)`` (a reset) must trace again (None: a state
    that is not a dict of dicts is not guarded). Last, where ``o.state`` is the optimizer's own
    ``OptimizerState`` and every parameter's dict its ``ParamState`` (counting their changes),
    ``(counter, [count seen])``: the usual check compares the count alone; else None."""
    st = o.__dict__.get("state")
    if not isinstance(st, dict):
        return None
    sds = tuple(st.values())
    if not all(isinstance(d, dict) for d in sds):
        return None
    from plugtorch.optim.optimizer import OptimizerState, ParamState
    changes = st.__dict__.get("changes") if type(st) is OptimizerState else None
    counted = None
    if changes is not None and all(type(d) is ParamState and d._changes is changes for d in sds):
        counted = (changes, [changes[0]])
    return (st, len(st), sds, sum(map(len, sds)), tuple(_chain.from_iterable(map(dict.values, sds))), counted)


def _state_same(snap) -> bool:
    st, n, sds, total, vals, _ = snap
    return (len(st) == n and all(map(_is, st.values(), sds)) and sum(map(len, sds)) == total
            and all(map(_is, _chain.from_iterable(map(dict.values, sds)), vals)))


class _Fingerprint(tuple):
    """``_optimizer_fingerprint``'s snapshot; ``same``, made at the first check, is its usual
    case as generated code: the same groups, each value the same object (~0.45 us for SGD's
    group against ~0.95 us for ``_options_changed``'s loop), and no change counted in the
    state (~0.1 us, where comparing each state tensor by identity cost ~1 us)."""
    same = None


def _unchanged_options_check(snapshot):
    from operator import is_
    ns = {"_all": all, "_map": map, "_is": is_}
    conds = []
    for j, (o, ngroups, groups, state_epoch, state) in enumerate(snapshot):
        ns[f"o{j}"], ns[f"n{j}"], ns[f"e{j}"] = o, ngroups, state_epoch
        conds += [f"len(o{j}.param_groups) == n{j}", f"o{j}.__dict__.get('_state_epoch', 0) == e{j}"]
        if state is not None and state[5] is not None:   # (no change counted since the snapshot)
            ns[f"st{j}"], (ns[f"sc{j}"], ns[f"ss{j}"]) = state[0], state[5]
            conds += [f"o{j}.__dict__.get('state') is st{j}", f"sc{j}[0] == ss{j}[0]"]
        elif state is not None:   # (_state_same's test, written out)
            st, n, sds, total, vals, _ = state
            ns.update({f"st{j}": st, f"sn{j}": n, f"sds{j}": sds, f"stot{j}": total, f"svals{j}": vals,
                       "_chain": _chain.from_iterable, "_sum": sum, "_len": len, "_values": dict.values})
            conds += [f"o{j}.__dict__.get('state') is st{j}", f"len(st{j}) == sn{j}",
                      f"_all(_map(_is, st{j}.values(), sds{j}))", f"_sum(_map(_len, sds{j})) == stot{j}",
                      f"_all(_map(_is, _chain(_map(_values, sds{j})), svals{j}))"]
        for i, (g, items, n, (vals, ids), params) in enumerate(groups):
            name = f"g{j}_{i}"
            ns[name], ns[f"n{name}"], ns[f"v{name}"], ns[f"p{name}"] = g, n, vals, params
            conds += [f"o{j}.param_groups[{i}] is {name}", f"len({name}) == n{name}",
                      f"_all(_map(_is, {name}.values(), v{name}))"]
            if "params" in g:   # (its list the same object, appended to: `g["params"].append(p)`)
                conds += [f"len({name}['params']) == {len(params)}", f"_all(_map(_is, {name}['params'], p{name}))"]
    return _generated(" and ".join(conds), ns)


def _options_changed(snapshot, state=True) -> bool:
    """Whether any option differs from the snapshot (by identity first: a float the program did
    not touch is the same object; an equal new value counts as unchanged); ``state``: or the
    optimizers' state (``_state_snapshot``)."""
    if snapshot.__class__ is _Fingerprint:
        same = snapshot.same
        if same is None:
            same = snapshot.same = _unchanged_options_check(snapshot)
        if same():
            return False
    check_state = state
    for o, ngroups, groups, state_epoch, state in snapshot:
        # (load_state_dict replaces the state tensors the graph captured, and the groups)
        if len(o.param_groups) != ngroups or o.__dict__.get("_state_epoch", 0) != state_epoch:
            return True
        if check_state and state is not None and (o.__dict__.get("state") is not state[0] or not _state_same(state)):
            return True
        for (g, items, n, (_, ids), params), now in zip(groups, o.param_groups):
            if g is not now or len(g) != n:
                return True
            ps = g.get("params", ())   # (the parameters the graph updates: one more traces again)
            if len(ps) != len(params) or not all(map(_is, ps, params)):
                return True
            if list(map(id, g.values())) == ids:   # every value the same object: unchanged (fast)
                continue
            for k, v in items:
                w = g.get(k, _MISSING)
                if w is not v and not (type(w) is type(v) and _hashable(w) == _hashable(v)):
                    return True
    if check_state:
        # the state counted changes that left every value in place (a buffer assigned to itself):
        # the count seen moves on, so the usual check passes again
        for *_, state in snapshot:
            if state is not None and state[5] is not None:
                state[5][1][0] = state[5][0][0]
    return False


_MISSING = object()


def _hashable(v):
    if isinstance(v, Tensor):
        return ("tensor", id(v))
    try:
        hash(v)
        return v
    except TypeError:
        return repr(v)


def _detaching(run, positions):
    """``run``, its outputs at ``positions`` (of the flattened result) detached in place: the
    traced call returned them without autograd history (``y.detach_()``), which the replay
    through autograd does not repeat."""
    from plugtorch.jit.tracer import flatten_tensors

    def replay(tensors):
        r = run(tensors)
        outs = flatten_tensors((r,))[0]
        for i in positions:
            if i < len(outs) and outs[i]._rg:
                outs[i].detach_()
        return r
    return replay


def _made_leaf(graph, res, tensors):
    """Why the call's outputs need a requires_grad no replay gives them, or None: a leaf requiring
    grad that the call made (``ones(2, requires_grad=True)``, ``zeros(2).requires_grad_()``;
    a partial graph's head hands such a local to its tail), or an output requiring grad when no
    input or captured tensor does. (The graph records the ops, not the flag: the replay returned
    the leaf without requires_grad and its results without history.)"""
    from plugtorch.jit.tracer import flatten_tensors
    outs = flatten_tensors((res,))[0]
    if not any(t._rg for t in outs):
        return None
    known = {id(t) for t in tensors} | {id(v.tensor) for v in graph.captures if v.tensor is not None}
    for t in outs:
        if t._rg and t.grad_fn is None and id(t) not in known:
            return f"it makes a tensor of shape {list(t.shape)} that requires grad and hands it out"
    if D.grad_state.enabled and not graph.backward_ran and not any(t._rg for t in tensors) and not any(
            v.tensor is not None and v.tensor._rg for v in graph.captures):
        return "an output requires grad, computed from a tensor the call set requires_grad on"
    return None


def _setting_requires_grad(run, flips):
    """``run``, then each input ``(position, requires_grad)`` of ``flips`` given that
    requires_grad (what the traced call left; the graph's replay does not run the Python)."""
    def replay(tensors):
        r = run(tensors)
        for pos, rg in flips:
            tensors[pos].requires_grad_(rg)
        return r
    return replay


_MISS = object()     # what a hot function returns where the call is not its graph's


def _hot_function(e, rgs, grad, epoch, dtype, device):
    """The replay of entry ``e`` (state "compiled" or "split") for calls of ``len(rgs)`` tensor
    arguments, behind one generated check of what the entry's cache key holds beyond the graph's
    own guards (which check every input's device, dtype, shape and strides, raising before any
    kernel runs): each argument a Tensor with that requires_grad, grad mode, the modules'
    training modes, the default dtype and device, no dispatch mode active, the optimizers'
    options and the Python state the call read. ``hot(compiled_function, args)`` returns the
    result, or _MISS for the keyed lookup. (A small graph's replay costs about 1 us more behind
    the general checks, a loop over the arguments and a tuple of the key's parts: issue 14's
    compiled chain of small ops on opencl.)"""
    # (made again only when the entry changed: calls alternating between signatures come back
    # through the keyed lookup each time)
    same = (rgs, grad, epoch)
    ident = (dtype, device, e.state, e.run, e.fingerprint, e.pystate)
    known = e.hot
    if known is not None and known[0] == same and all(map(_is, known[1], ident)):
        return known[2]
    hot = _guarded_replay(e, rgs, grad, epoch, dtype, device)
    if hot is not None:
        e.hot = (same, ident, hot)
        return hot
    n = len(rgs)
    lines = ["def hot(self, args):", f"    if _D._modes or len(args) != {n}:", "        return _MISS"]
    cond = ["_GS.enabled is not G", "_M.TRAIN_EPOCH != EP", "_DT.value is not DTV", "_DV.device is not DEV"]
    if n:
        lines.append("    " + "".join(f"t{i}, " for i in range(n)) + "= args")
        for i, rg in enumerate(rgs):
            cond += [f"t{i}.__class__ is not Tensor", f"t{i}._rg is not {bool(rg)}"]
    if e.state == "compiled" and e.fingerprint:
        cond.append("_options_changed(FP)")
    if e.state == "compiled" and e.pystate:
        cond.append("_python_state_changed(PS)")
    lines += [f"    if {' or '.join(cond)}:", "        return _MISS"]
    if e.state == "split":    # (the head's own cache guards its inputs)
        lines.append("    return self._run_split(E, args, {})")
    else:
        lines += ["    try:", "        r = RUN(args)", "    except _GuardFailure:", "        return _MISS",
                  "    except _DataMiss as m:", "        return self._shape_missed(E, m, args, {})",
                  "    except _InputsAlias as a:", "        return self._aliased(a, args, {})",
                  '    _C["compiled_calls"] += 1', "    return r"]
    ns = {"_D": D, "_MISS": _MISS, "_GS": D.grad_state, "G": grad, "_M": _MODULE, "EP": epoch,
          "_DT": _DTYPE_DEFAULT, "DTV": dtype, "_DV": _DEVICE_DEFAULT, "DEV": device, "Tensor": Tensor,
          "_options_changed": _options_changed, "FP": e.fingerprint, "_python_state_changed": python_state_changed,
          "PS": e.pystate, "E": e, "RUN": e.run, "_GuardFailure": _GuardFailure, "_DataMiss": _DataMiss,
          "_InputsAlias": _InputsAlias, "_C": _COUNTERS}
    exec(_hot_code("\n".join(lines)), ns)
    e.hot = (same, ident, ns["hot"])
    return ns["hot"]


def _guarded_replay(e, rgs, grad, epoch, dtype, device):
    """``_hot_function``'s checks and the replay as one call into the backend, for an entry
    whose graph is one fused kernel (``executor.one_kernel``) replayed without autograd, where its
    backend offers ``guarded_call`` (opencl's C extension: docs/backends.md); else None. The
    same checks, in the same terms: every argument a Tensor with the traced requires_grad,
    device and dtype and a native array of the traced shape and strides (the graph's guards),
    grad mode, TRAIN_EPOCH, the default dtype and device, no dispatch mode; anything else gives
    _MISS, and the Python path runs (and raises the guard's error where it fails)."""
    if e.state != "compiled" or e.fingerprint or e.pystate or e.traced is None:
        return None
    exe = e.traced._exe
    spec = getattr(exe, "one_kernel", None)
    if spec is None or e.run is not exe._fn or len(rgs) != len(spec["dtypes"]):
        return None
    from plugtorch.backends import get_backend
    call = getattr(get_backend(spec["device"].type), "guarded_call", None)
    if call is None:
        return None
    env = [(D, "_modes", D._modes, False), (D.grad_state, "enabled", grad, False), (_MODULE, "TRAIN_EPOCH", epoch, True),
           (_DTYPE_DEFAULT, "value", dtype, False), (_DEVICE_DEFAULT, "device", device, False)]
    expect = [(bool(rg), dv, dt) for rg, dv, dt in zip(rgs, spec["devices"], spec["dtypes"])]
    return call(spec["kernel"], cls=Tensor, miss=_MISS, empty=D._modes, env=env, names=("_rg", "_device", "_dtype"),
                expect=expect, data="_data", shapes=spec["shapes"], strides=spec["strides"], kargs=spec["kargs"],
                wrap=("_data", "_dtype", "_device"), out_dtype=spec["out_dtype"], out_device=spec["out_device"],
                counter=_COUNTERS, key="compiled_calls")


@functools.lru_cache(maxsize=256)
def _hot_code(source):
    import builtins     # (this module's compile is plugtorch.compile)
    return builtins.compile(source, "<plugtorch.compile hot path>", "exec")


class _PythonCall:
    """``_fastcall.FastCall``'s call in Python, where that C extension is not built: the entry
    that ran last first (``_hot_function``: its replay behind one generated check of the rest of
    the cache key, or _MISS), then the keyed lookup (``_lookup``)."""
    _hot = None

    def __call__(self, *args, **kwargs):
        hot = self._hot
        if hot is not None and not kwargs:
            r = hot(self, args)
            if r is not _MISS:
                return r
        return self._lookup(args, kwargs)


try:
    # (the same call in C: no Python frame before the replay, docs/jit.md)
    from plugtorch.compiler import _fastcall
    _fastcall.set_miss(_MISS)
    _CallBase = _fastcall.FastCall
except ImportError:
    _fastcall = None
    _CallBase = _PythonCall


class CompiledFunction(_CallBase):
    """What ``plugtorch.compile`` returns for a function."""

    def __init__(self, fn, fullgraph=False, dynamic=False, name=None):
        self._fn = fn
        self._fullgraph = fullgraph
        self._dynamic = dynamic
        self._cache: dict = {}
        self._order: list = []
        # the entry that ran last as a generated function (_hot_function), tried first; it holds the
        # entry's state, run, fingerprint and pystate as they were: whatever changes them resets it
        self._hot = None
        self._dropped = 0      # graphs dropped for new signatures (a full cache)
        self.__name__ = name or getattr(fn, "__name__", type(fn).__name__)
        self.__wrapped__ = fn
        functools.update_wrapper(self, fn, updated=()) if hasattr(fn, "__name__") else None
        self.counters = {"graphs": 0, "graph_breaks": 0, "recompiles": 0}
        self._splits: dict = {}    # statement index -> resume.Split (or why none): shared by signatures
        _COMPILED.add(self)

    # (calling an instance runs _CallBase's call: ``self._hot`` first, then this)
    def _lookup(self, args, kwargs):
        """The call past the entry that ran last: the cache keyed by the input signature, then a
        replay, a trace, a recompile or an eager call."""
        if D._modes and D._stack.modes:
            # under a dispatch mode (a tracer, autocast, the profiler) the mode must see each op:
            # run the function itself (its graphs replay kernels behind the dispatcher)
            _COUNTERS["eager_calls"] += 1
            return self._fn(*args, **kwargs)
        if not kwargs and _all_tensors(args):
            tensors = args
            skey = len(args)
        else:
            from plugtorch.jit.tracer import flatten_tensors
            from plugtorch.jit.api import spec_key
            tensors, spec = flatten_tensors(args, kwargs)
            skey = spec_key(spec)
        # (the default dtype and device: factories and Python floats in the graph followed them)
        key = (skey, tuple(map(_tensor_key, tensors)), D.grad_state.enabled, _module().TRAIN_EPOCH,
               _DTYPE_DEFAULT.value, _DEVICE_DEFAULT.device)
        e = self._cache.get(key)
        if e is not None:
            if e.state == "compiled":
                if e.fingerprint and _options_changed(e.fingerprint):
                    if self._churned(e, "an optimizer's options changed (a learning-rate scheduler stepped at every "
                                        "call?)"):
                        _COUNTERS["eager_calls"] += 1
                        return self._fn(*args, **kwargs)
                    self._recompile(key, e, "an optimizer's options or state changed (a new learning rate, "
                                            "load_state_dict, its state cleared or replaced)")
                    # (a cleared state is created again by the next step, a trace that cannot be
                    # replayed: the retraces count from here, not from the first trace)
                    e.traces = 0
                    return self._trace(key, args, kwargs, e)
                changed = e.pystate and python_state_changed(e.pystate)
                if changed:
                    if self._churned(e, changed):
                        _COUNTERS["eager_calls"] += 1
                        return self._fn(*args, **kwargs)
                    self._recompile(key, e, changed)
                    e.variants = []
                    return self._trace(key, args, kwargs, e)
                try:
                    r = e.run(tensors)
                    _COUNTERS["compiled_calls"] += 1
                    if skey.__class__ is int:
                        self._hot = _hot_function(e, tuple(t._rg for t in tensors), D.grad_state.enabled,
                                                  _MODULE.TRAIN_EPOCH, key[4], key[5])
                    return r
                except _GuardFailure as g:
                    why = e.traced._exe.explain_mismatch(g.args[0], tensors)
                    self._recompile(key, e, why)
                    return self._trace(key, args, kwargs, e)
                except _DataMiss as m:
                    return self._shape_missed(e, m, args, kwargs)
                except _InputsAlias as a:
                    return self._aliased(a, args, kwargs)
            if e.state == "split":
                if skey.__class__ is int:
                    self._hot = _hot_function(e, tuple(t._rg for t in tensors), D.grad_state.enabled,
                                              _MODULE.TRAIN_EPOCH, key[4], key[5])
                return self._run_split(e, args, kwargs)
            if e.state == "eager":
                if e.settle is not None and self._settled(e):
                    return self._trace(key, args, kwargs, e)
                _COUNTERS["eager_calls"] += 1
                return self._fn(*args, **kwargs)
            return self._trace(key, args, kwargs, e)
        if self._cache:
            self._recompile(key, None, "a new input signature (" + _describe_key(key) + ")")
        return self._trace(key, args, kwargs, None)

    def _churned(self, e, what) -> bool:
        """A guarded value changed again (an optimizer's options, a Python value): whether it
        changes so often (a learning-rate scheduler or a step counter moved at every call) that
        tracing each time costs more than eager. Then the signature runs eagerly until those
        values stay the same for CHURN_SETTLE calls."""
        replays = _COUNTERS["compiled_calls"] - e.calls_at_trace
        e.churn = e.churn + 1 if replays < CHURN_REPLAYS else 0
        if e.churn < CHURN_LIMIT:
            return False
        self._hot = None
        e.state, e.churn, e.variants = "eager", 0, []
        e.reason = (f"{self.__name__}: {what}; {CHURN_LIMIT} such changes in a row, fewer than {CHURN_REPLAYS} "
                    f"calls apart: each traces the call again, so it runs eagerly until the values it depends on "
                    f"stay the same for {CHURN_SETTLE} calls")
        e.settle = [_optimizer_fingerprint(e.optimizers), python_state(self._fn), 0]
        _note("eager", e.reason)
        return True

    def _settled(self, e) -> bool:
        """While eager for churning values: whether they stayed the same for CHURN_SETTLE calls."""
        fp, ps, n = e.settle
        if _options_changed(fp) or python_state_changed(ps):
            e.settle = [_optimizer_fingerprint(e.optimizers), python_state(self._fn), 0]
            return False
        e.settle[2] = n + 1
        if n + 1 < CHURN_SETTLE:
            return False
        e.settle = None
        self._recompile(e.key, e, f"the values it depends on stayed the same for {CHURN_SETTLE} calls")
        return True

    def _recompile(self, key, e, why):
        _COUNTERS["recompiles"] += 1
        self.counters["recompiles"] += 1
        _note("recompile", f"{self.__name__}: {why}")

    def _aliased(self, why, args, kwargs):
        """Inputs that share memory where the graph writes into one: this call runs eagerly (the
        graph stays for calls with separate tensors)."""
        self._hot = None
        _note("eager", f"{self.__name__}: {why}; the call ran eagerly")
        _COUNTERS["eager_calls"] += 1
        return self._fn(*args, **kwargs)

    def _shape_missed(self, e, miss, args, kwargs):
        """A replay stopped at a data-dependent shape, or a read of tensor data, that differs from its
        trace (before writing anything it could not undo). The signature's other graphs, traced on
        other data, are tried in turn (the one that fits runs from then on first); none fitting,
        the call is traced again into one more graph, up to DATA_VARIANT_LIMIT, then runs eagerly."""
        self._hot = None
        for k, (traced, run) in enumerate(e.variants):
            try:
                r = run(traced_inputs(None, args, kwargs) if kwargs or not _all_tensors(args) else args)
            except _DataMiss:
                continue
            e.variants[k] = (e.traced, e.run)
            e.traced, e.run = traced, run
            _COUNTERS["compiled_calls"] += 1
            return r
        why = f"{self.__name__}: {miss}"
        if len(e.variants) + 1 >= DATA_VARIANT_LIMIT:
            stacks = e.traced.graph.read_stacks
            e.variants = []
            split = self._split(e, stacks[0], why + f"; {DATA_VARIANT_LIMIT} graphs traced on other data fit "
                                "none") if stacks else ""
            if split is True:
                return self._run_split(e, args, kwargs)
            e.state, e.reason = "eager", why + f"; {DATA_VARIANT_LIMIT} graphs traced on other data fit none, so " \
                "this signature runs eagerly" + split
            _note("eager", e.reason)
            _COUNTERS["eager_calls"] += 1
            return self._fn(*args, **kwargs)
        self._recompile(e.key, e, str(miss))
        variants = e.variants + [(e.traced, e.run)]
        r = self._trace(e.key, args, kwargs, e)
        if e.state == "compiled":
            e.variants = variants
        return r

    def _trace(self, key, args, kwargs, e):
        from plugtorch.jit.api import TracedFunction, trace_call
        self._hot = None
        from plugtorch.optim import optimizer as _optim
        if e is None:
            if len(self._cache) >= CACHE_SIZE_LIMIT:
                if self._dropped >= CACHE_SIZE_LIMIT:
                    # (signatures keep coming, each dropping another: tracing every call costs more
                    # than eager, as torch.compile's cache_size_limit)
                    if self._dropped == CACHE_SIZE_LIMIT:
                        self._dropped += 1
                        _note("eager", f"{self.__name__}: more than {2 * CACHE_SIZE_LIMIT} signatures (shapes, "
                                       "dtypes, devices ...): new ones run eagerly; the graphs of the last "
                                       f"{CACHE_SIZE_LIMIT} still replay (plugtorch.compiler.reset() starts over)")
                    _COUNTERS["eager_calls"] += 1
                    return self._fn(*args, **kwargs)
                old = self._order.pop(0)
                self._cache.pop(old, None)
                self._dropped += 1
                _note("cache", f"{self.__name__}: more than {CACHE_SIZE_LIMIT} signatures; the oldest graph "
                               "was dropped")
            e = _Entry("retrace", key=key)
            self._cache[key] = e
            self._order.append(key)
        e.traces += 1
        _COUNTERS["traced_calls"] += 1
        before = _host_rng_states()
        py_before = python_state(self._fn, deep=True, args=args, kwargs=kwargs)
        opt_before = _optimizer_fingerprint(list(_optim.LIVE))
        grad_before = D.grad_state.enabled
        with _decorators.compiling() as disabled:
            graph, res, tensors, spec = trace_call(self._fn, args, kwargs, warn=False)
        if disabled:
            return self._graph_break(key, e, res, f"{self.__name__}: calls {disabled[0]}, which "
                                     "plugtorch.compiler.disable marks to run eagerly",
                                     "remove plugtorch.compiler.disable from it")
        if D.grad_state.enabled is not grad_before:    # (set_grad_enabled() called as a function)
            return self._graph_break(key, e, res, f"{self.__name__}: the call leaves grad mode "
                                     f"{'on' if D.grad_state.enabled else 'off'} (it was "
                                     f"{'on' if grad_before else 'off'}), which a replay would not do",
                                     "restore it before returning (with plugtorch.set_grad_enabled(...): as a "
                                     "block), or set it outside the compiled function")
        drew = _host_rng_drawn(before)
        if drew:    # (Python chose with numbers a replay would not draw again)
            graph.breaks.append((drew, ""))
        if graph.breaks:
            what, site = graph.breaks[0]
            reason = f"{self.__name__}: Python reads tensor data ({what}) at {site or 'unknown'}" if site or not \
                what.startswith(("draws from", "changes the shape", "runs backward")) else f"{self.__name__}: the call {what}"
            if graph.read_stacks and not drew and not self._fullgraph and not any(
                    w.startswith(("draws from", "changes the shape", "runs backward")) for w, _ in graph.breaks):
                split = self._split(e, graph.read_stacks[0], reason)
                if split is True:
                    return res
                reason += split
            fix = "keep that backward, or the tensor, out of the compiled function (return it detached)" \
                if what.startswith("runs backward") else "remove the data-dependent Python (use tensor ops such " \
                "as plugtorch.where)"
            return self._graph_break(key, e, res, reason, fix)
        # Python state the call itself changed (an LR scheduler stepped inside it, a counter): a
        # replay runs no Python, so it would not change it again
        change = _first_change(py_before)
        mutated = None if change is None else f"the Python value {change[0]} ({change[2]!r} before, {change[1]!r} after)"
        if mutated is None and _options_changed(opt_before, state=False):
            mutated = "an optimizer's options or state (an LR scheduler's step() inside the call?)"
        if mutated is None and not graph.escapes and _options_changed(opt_before):
            # (its state tensors replaced by ones from before the call, or cleared in the call)
            mutated = "an optimizer's state (its tensors replaced or cleared inside the call?)"
        if mutated is not None and not graph.escapes:
            graph.escapes.append(f"the call changes {mutated}; a replay would not (move that out of the compiled "
                                 "function)")
        if graph.escapes:
            reason = f"{self.__name__}: a tensor computed in the call is kept in Python state ({graph.escapes[0]})" \
                if mutated is None else f"{self.__name__}: {graph.escapes[0]}"
            return self._not_replayable(e, res, reason, graph)
        if graph.made_in_call or graph.made_in_call_returned:     # (state the first call made and keeps is there at the next trace)
            from plugtorch.jit.tracer import made_in_call_reason
            return self._not_replayable(e, res, f"{self.__name__}: the call {made_in_call_reason(graph)}", graph)
        made = _made_leaf(graph, res, tensors)
        if made is not None:
            return self._graph_break(key, e, res, f"{self.__name__}: {made}; a replay records no requires_grad "
                                     "the call sets on a tensor it makes", "make that tensor outside the compiled "
                                     "function and pass it in")
        traced = TracedFunction(graph, name=self.__name__, rg_guard=True)   # (a frozen parameter traces again)
        exe = traced._exe
        if exe.aliasing is not None and exe.aliasing(traced_inputs(graph, args, kwargs)) is not None:
            reason = (f"{self.__name__}: the call's inputs share memory and it writes into one of them; a graph "
                      "traced on them would not follow that aliasing")
            return self._not_replayable(e, res, reason, graph)
        hazard = traced._exe.hazard
        if hazard is None and traced._exe.dynamic and not graph.backward_ran and D.grad_state.enabled and (
                traced._rg_captures or any(t._rg for t in traced_inputs(graph, args, kwargs))):
            from plugtorch.jit.executor import op_level_hazard   # (a replay through autograd, in program order)
            hazard = op_level_hazard(graph)
        if hazard is not None:
            # a replay could not stop at the data-dependent shape without leaving this write done
            first = "a read of tensor data" if graph.guards else "a data-dependent shape"
            reason = (f"{self.__name__}: {first} follows an in-place write ({hazard}): a replay could not stop "
                      "there if it changed")
            if graph.guards and graph.read_stacks and not self._fullgraph:
                split = self._split(e, graph.read_stacks[0], reason)
                if split is True:
                    return res
                reason += split
            return self._graph_break(key, e, res, reason, "make the write after the data-dependent op")
        e.traced = traced
        e.state = "compiled"
        # the key holds grad mode and every input's requires_grad: decide the path once
        fast_run = traced._exe._fn
        if graph.enables_grad and not graph.backward_ran:
            e.run = traced._call_tensors    # (enable_grad() inside, called under no_grad: autograd records)
        elif graph.backward_ran or not D.grad_state.enabled or not any(t._rg for t in traced_inputs(graph, args, kwargs)):
            rg = [t for t in traced._rg_captures if t._rg]   # (their requires_grad is guarded: decided once)
            fast = traced._exe._fn
            e.run = (lambda ts: traced._call_tensors(ts)) if rg and not graph.backward_ran and D.grad_state.enabled \
                else fast
        else:
            e.run = traced._call_tensors
        # inputs whose requires_grad the call set (``x.requires_grad_()`` for a gradient with
        # respect to the input): a replay sets it as the call did
        flips = [(v.pos, tensors[v.pos]._rg) for v in graph.inputs if bool(tensors[v.pos]._rg) != v.requires_grad]
        if flips:
            e.run = _setting_requires_grad(e.run, flips)
        if e.run is not fast_run:     # (through autograd: an output the call detached, detach_(), is detached)
            from plugtorch.jit.tracer import flatten_tensors
            detached = [i for i, t in enumerate(flatten_tensors((res,))[0]) if not t._rg]
            if detached:
                e.run = _detaching(e.run, detached)
        captured = {id(v.tensor) for v in graph.captures if v.tensor is not None}
        e.optimizers = [o for o in list(_optim.LIVE) if any(id(p) in captured for g in o.param_groups
                                                            for p in g["params"])]
        e.fingerprint = _optimizer_fingerprint(e.optimizers)
        e.calls_at_trace = _COUNTERS["compiled_calls"]
        e.pystate = python_state(self._fn, args=args, kwargs=kwargs)
        if graph.host_made:
            # the graph holds as constants tensors the call made from host data: the values of
            # the NumPy arrays it read from its globals, closure and objects (``x * pt.tensor(MEAN
            # * 2)``), and of those plugtorch.tensor() copied, as traced; a program may change
            # them in place between calls
            e.pystate.extend((_ARRAY, v, f"'{k}' (a NumPy array)", (v.shape, v.tobytes()))
                             for kind, c, k, v in list(e.pystate) if kind & _IDENT and type(v) is _np.ndarray)
            e.pystate.extend((_ARRAY, a, f"a NumPy array of shape {list(a.shape)} copied by plugtorch.tensor()", snap)
                             for a, snap in graph.host_copies)
        _COUNTERS["graphs"] += 1
        self.counters["graphs"] += 1
        return res

    def _not_replayable(self, e, res, reason, graph=None):
        """This trace cannot stand for its signature (state it left behind, aliased inputs): the
        next call traces again; after RETRACE_LIMIT traces the signature runs eagerly (or, where
        Python read tensor data, runs split there: the statements before the read compiled, which
        their own graph checks again)."""
        if e.traces >= RETRACE_LIMIT and graph is not None and graph.read_stacks:
            split = self._split(e, graph.read_stacks[0], reason + f"; still so after {e.traces} traces")
            if split is True:
                return res
            reason += split
        if e.traces >= RETRACE_LIMIT:
            e.state, e.reason = "eager", reason
            _note("eager", reason + f"; still so after {e.traces} traces")
        else:
            e.state, e.reason = "retrace", reason
            _note("retrace", reason)
        return res

    def _graph_break(self, key, e, res, reason, fix):
        """The traced call cannot be replayed: its signature runs eagerly (fullgraph=True raises)."""
        if self._fullgraph:
            self._cache.pop(key, None)
            raise RuntimeError(f"plugtorch.compile(fullgraph=True): graph break: {reason}; {fix}, or compile with "
                               "fullgraph=False to run this call eagerly")
        e.state, e.reason = "eager", reason
        _COUNTERS["graph_breaks"] += 1
        self.counters["graph_breaks"] += 1
        _note("graph break", reason)
        return res

    def _split(self, e, stack, why):
        """Python read tensor data in a way no graph can repeat (``why``): split the function before
        the top-level statement holding the read, when it can be (``resume``), so that the
        statements before it run as a graph and the rest as Python. True where it was split, else
        why not (text to append to the reason)."""
        if self._fullgraph:
            return ""
        from plugtorch.compiler import resume
        k = resume.split_index(self._fn, stack)
        split = self._splits.get(k) if k is not None else None
        if split is None:
            split = resume.make_split(self._fn, stack,
                                      lambda fn, name: CompiledFunction(fn, name=f"{self.__name__}: {name}"))
            if k is not None:
                self._splits[k] = split
        if isinstance(split, str):
            return f" (not split there: {split})"
        e.state, e.split, e.traced, e.run, e.variants = "split", split, None, None, []
        e.reason = (f"{why}; split: the statements before line {split.line} run as a graph, the rest as Python "
                    "(plugtorch.compiler.resume)")
        _COUNTERS["graph_breaks"] += 1
        self.counters["graph_breaks"] += 1
        _note("graph break", e.reason)
        return True

    def _run_split(self, e, args, kwargs):
        from plugtorch.compiler.resume import _NO_SPLIT
        split = e.split
        r, bad, local = split(args, kwargs)
        if r is _NO_SPLIT:
            self._hot = None
            # the head's variables cannot be replayed; it ran (traced, so eagerly) for this call,
            # whose rest runs on its results; later calls run eagerly
            e.state, e.split = "eager", None
            e.reason = f"{self.__name__}: cannot split before line {split.line}: {bad}; this signature runs eagerly"
            _note("eager", e.reason)
            return split.tail(local)
        return r

    def graphs(self) -> list:
        """The graphs this function compiled (their SSA text)."""
        out = [str(e.traced.graph) for e in self._cache.values() if e.traced is not None]
        for s in self._splits.values():
            if not isinstance(s, str):
                out += s.head.graphs()
        return out


def _describe_key(key) -> str:
    skey, tkeys, grad, _, default_dtype, default_device = key
    parts = [f"{str(dt).replace('plugtorch.', '')}{list(shape)} on {dev}{' requires_grad' if rg else ''}"
             for dev, dt, shape, _st, rg in tkeys]
    return ", ".join(parts) + ("" if grad else "; grad mode off") + \
        f"; default dtype {str(default_dtype).replace('plugtorch.', '')}" + \
        (f", default device {default_device}" if default_device is not None else "")


class OptimizedModule:
    """What ``plugtorch.compile`` returns for a Module: calls run the compiled forward; attributes,
    parameters and state_dict are the original module's (``_orig_mod``)."""

    def __init__(self, module, compiled):
        object.__setattr__(self, "_orig_mod", module)
        object.__setattr__(self, "_compiled", compiled)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    forward = __call__

    def __getattr__(self, name):
        return getattr(self._orig_mod, name)

    def __setattr__(self, name, value):
        setattr(self._orig_mod, name, value)

    def __repr__(self):
        return f"OptimizedModule({self._orig_mod!r})"


def compile(model=None, *, fullgraph=False, dynamic=False, backend=None, mode=None, options=None,
            disable=False):
    """Compile ``model`` (a function or a Module); usable as a decorator, with or without arguments."""
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable)
    if disable:
        return model
    if dynamic:
        raise NotImplementedError("plugtorch.compile(dynamic=True): graphs are specialised to their shapes; "
                                  "compile with dynamic=False (each new shape traces once)")
    from plugtorch.nn.modules.module import Module
    if isinstance(model, Module):
        return OptimizedModule(model, CompiledFunction(model, fullgraph=fullgraph,
                                                       name=type(model).__name__))
    if not callable(model):
        raise TypeError(f"plugtorch.compile(): expected a function or a Module, got {type(model).__name__}")
    return CompiledFunction(model, fullgraph=fullgraph)


@dataclass
class ExplainOutput:
    """What ``explain`` found: graphs built, graph breaks with their reasons, recompiles."""
    graph_count: int
    graph_break_count: int
    recompile_count: int
    break_reasons: list
    graphs: list
    guards: list = field(default_factory=list)   # "item() at file:line": reads the replays repeat
    returned_reads: list = field(default_factory=list)   # "item() at file:line": numbers returned, read afresh

    def __str__(self):
        lines = [f"Graph Count: {self.graph_count}", f"Graph Break Count: {self.graph_break_count}",
                 f"Recompile Count: {self.recompile_count}"]
        if self.break_reasons:
            lines.append("Break Reasons:")
            lines += [f"  {r}" for r in self.break_reasons]
        if self.guards:
            lines.append("Guarded Reads (the replay reads the data again and runs only if it is the traced data):")
            lines += [f"  {g}" for g in self.guards]
        if self.returned_reads:
            lines.append("Returned Reads (numbers the call returns after its last op: each replay reads them again):")
            lines += [f"  {g}" for g in self.returned_reads]
        return "\n".join(lines)


def explain(fn, *args, **kwargs):
    """Compile ``fn``, call it with ``args`` (twice: the trace, then the replay) and say what happened:
    ``explain(f)(x)`` or ``explain(f, x)`` as ``torch._dynamo.explain``."""
    def run(*a, **k):
        c = CompiledFunction(fn)
        before = len(_REASONS)
        c(*a, **k)
        c(*a, **k)
        reasons = [r for r in _REASONS[before:] if not r.startswith("recompile")]
        guards = [f"{why}() at {site or 'unknown'}" for e in c._cache.values() if e.traced is not None
                  for why, site, *_ in e.traced.graph.guards]
        late = [f"{why}() at {site or 'unknown'}" for e in c._cache.values() if e.traced is not None
                for why, site in e.traced.graph.late_reads]
        heads = sum(s.head.counters["graphs"] for s in c._splits.values() if not isinstance(s, str))
        return ExplainOutput(c.counters["graphs"] + heads, c.counters["graph_breaks"], c.counters["recompiles"],
                             reasons, c.graphs(), list(dict.fromkeys(guards)), list(dict.fromkeys(late)))
    if args or kwargs:
        return run(*args, **kwargs)
    return run
