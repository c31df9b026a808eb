"""The planted-bug corpus: backends that are the cpu kernels with one kernel broken.

Each module of this package lists ``BUGS``; ``tests/conformance/test_planted_bugs.py`` registers
each bug as a backend and runs the conformance suite on it at its default settings (seed 0,
``max_examples=6``): the bug's entry must FAIL. A bug the suite lets through is a hole in the
suite, whatever the seed.

A bug is written as kernel replacements: ``replace={"neg": lambda cpu: lambda x, dtype: ...}``
maps a kernel name to a factory that receives the honest cpu kernel of that name and returns
the broken kernel, so a bug reads as "the cpu kernel, except ...".
"""
from __future__ import annotations

import importlib
import itertools
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import plugtorch as pt
from plugtorch.backends.cpu import CPUBackend

# The bug classes the suite must catch (issue 16 and the first edition's).
CLASSES = {
    # second edition
    "kernel result": "a result of the wrong array type, dtype, shape, strides or device, or a 0-d NumPy/Python scalar",
    "promotion": "type promotion of mixed dtypes and Python scalars inside kernels",
    "signed zero": "-0.0 where the reference gives -0.0 (neg, mul, copysign, round, ...)",
    "nan position": "NaN where the reference has a number, or a number where it has NaN",
    "division by zero": "integer division and remainder by zero must raise",
    "ties": "stable sort/argsort with ties, topk/kthvalue/mode tie rules",
    "hard numerics": "overflow, underflow, subnormals, equal rows, rows of inf and nan",
    "random": "seeded random ops: same seed same values, other seed other values, right distribution",
    # first edition
    "values": "plain wrong values",
    "shape": "a wrong result shape",
    "layout": "a kernel that assumes contiguous inputs",
    "views": "a view kernel that copies",
    "input mutation": "a kernel that writes into its input",
    "error type": "the wrong exception for a bad call",
    "gradient": "a wrong backward kernel",
}


@dataclass
class Bug:
    """One planted bug: ``op`` (a conformance entry name) must FAIL on a backend whose kernels
    are cpu's with ``replace`` applied."""

    name: str
    bug_class: str
    op: str
    replace: dict = field(default_factory=dict)     # kernel name -> (cpu kernel -> broken kernel)
    dtypes: tuple | None = None                     # dtypes to run (None: all of the entry's)
    check: str | None = None                        # the failure's expected check kind, if any
    attrs: dict = field(default_factory=dict)       # extra backend attributes
    drop: tuple = ()                                # kernels the backend lacks

    def __post_init__(self):
        assert self.bug_class in CLASSES, f"{self.name}: unknown bug class {self.bug_class!r}"


class CopyOfCPU(CPUBackend):
    """The cpu kernels on a separate 'device' whose memory is a private copy, some kernels replaced."""

    def __init__(self, replace=None, drop=(), unsupported=()):
        super().__init__()
        self.kernels = {k: v for k, v in self.kernels.items() if k not in drop}
        self.kernels.update(replace or {})
        self._unsupported = tuple(unsupported)

    def from_numpy(self, array, index=None):
        return np.array(array, copy=True)

    def unsupported_dtype(self, dtype, index):
        return "this device has no such units" if dtype in self._unsupported else None


_names = (f"planted{i}" for i in itertools.count())


def register(bug: Bug) -> str:
    """Register ``bug`` as a fresh backend; returns its name (``pt.backends.unregister`` it)."""
    cpu = CPUBackend().kernels
    replace = {k: make(cpu[k] if k in cpu else None) for k, make in bug.replace.items()}
    cls = type("Planted", (CopyOfCPU,), dict(bug.attrs)) if bug.attrs else CopyOfCPU
    name = next(_names)
    pt.backends.register(cls(replace=replace, drop=bug.drop), name=name)
    return name


def all_bugs() -> list:
    bugs = []
    for mod in pkgutil.iter_modules(__path__):
        bugs.extend(importlib.import_module(f"{__name__}.{mod.name}").BUGS)
    return bugs


def kernel(fn: Callable) -> Callable:
    """Mark a replacement that ignores the cpu kernel: ``replace={"neg": kernel(my_neg)}``."""
    return lambda _cpu: fn
