"""Memo caches: bounded in size, and forgotten together when what they memoise changes.

The dispatcher, the meta functions and the backends memoise decisions per operand signature
(an op's kernel for these dtypes and shapes, a broadcast shape, a compiled kernel). Each such
memo is a ``Memo``: lookups stay a plain ``dict.get`` (C speed on the hot path); a store into
a full memo first drops its older half, so a program that meets ever new shapes keeps a
bounded memory. An entry still in use that was dropped is recomputed once on its next call.

``invalidate()`` clears every memo registered for it, and runs the callbacks given to
``on_invalidate``: ``set_default_dtype`` and backend (un)registration call it. This module is
the bottom of the package: the layers that own caches register here, so the layers that
must invalidate them (``_dtypes``, the backend registry) never import those layers.

>>> m = Memo(4)
>>> for i in range(6): m[i] = i * i
>>> sorted(m)       # the two oldest of the four were dropped when the fifth came
[2, 3, 4, 5]
"""
from __future__ import annotations

import threading
import weakref
from itertools import islice

_MEMOS: dict = {}      # id -> weak reference of every live memo
_CALLBACKS: list = []
_lock = threading.Lock()


class Memo(dict):
    """A dict of at most ``maxsize`` entries; storing into a full one drops the older half.

    Not an exact LRU, on purpose: recording each hit would cost every lookup on the hot path;
    dropping by insertion order costs nothing there, and a hot entry that goes is computed
    again once. ``invalidate=False`` keeps it out of ``invalidate()`` (compiled programs,
    which no setting changes).
    """

    __slots__ = ("maxsize", "invalidates", "__weakref__")

    def __init__(self, maxsize: int = 1024, *, invalidate: bool = True):
        super().__init__()
        self.maxsize = maxsize
        self.invalidates = invalidate
        key = id(self)
        with _lock:
            _MEMOS[key] = weakref.ref(self, lambda _, key=key: _MEMOS.pop(key, None))

    def __setitem__(self, key, value):
        put(self, key, value, self.maxsize)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def __reduce__(self):
        return (dict, (dict(self),))


def put(d: dict, key, value, maxsize: int) -> None:
    """``d[key] = value``, first dropping the older half of ``d`` if it holds ``maxsize``
    entries: what a Memo does on a store, for a plain dict whose lookups are the hottest of all
    (the dispatcher's per-op memo, where a dict subclass's ``get`` costs 10 ns more)."""
    if len(d) >= maxsize and key not in d:
        try:
            old = list(islice(d, max(len(d) // 2, 1)))   # oldest first
        except RuntimeError:    # another thread stored meanwhile: start afresh
            d.clear()
        else:
            for k in old:
                d.pop(k, None)
    dict.__setitem__(d, key, value)


def on_invalidate(fn) -> None:
    """Call ``fn()`` on every ``invalidate()`` (for state that is not a Memo)."""
    _CALLBACKS.append(fn)


def invalidate() -> None:
    """Forget every memoised decision (the default dtype or a backend's kernels changed)."""
    for m in memos():
        if m.invalidates:
            m.clear()
    for fn in list(_CALLBACKS):
        fn()


def memos() -> list:
    """Every live memo (for tests and memory reports)."""
    with _lock:
        refs = list(_MEMOS.values())
    return [m for m in (r() for r in refs) if m is not None]
