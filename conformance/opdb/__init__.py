"""The op database: one ``Entry`` per op of the registry, split by family.

>>> get("add").dtypes[:2]
(plugtorch.bool, plugtorch.uint8)
>>> missing()      # ops of plugtorch.dispatch.registry.OPS without an entry
[]
"""
from __future__ import annotations

import fnmatch

from plugtorch.dispatch.registry import OPS

from . import (amp, complex, complex_math, creation, factorizations, fft, indexing, linalg, losses, modules, nn,
               optim, pointwise, reductions, shape, special)

FAMILIES = (pointwise, reductions, shape, indexing, linalg, factorizations, fft, complex, complex_math, creation, nn,
            losses, optim, amp, modules, special)

from . import rearrangements, statistics  # noqa: E402  (unfold, scans, *_scatter; quantile, cov, stft ...)
FAMILIES += (rearrangements, statistics)
from . import lapack_compact  # noqa: E402  (geqrf, ldl_factor_ex, ldl_solve)
FAMILIES += (lapack_compact,)
from . import rnn  # noqa: E402  (_rnn_layer)
FAMILIES += (rnn,)

# Ops that pick one of several equal values: between -0.0 and +0.0 the choice is unspecified
# (torch 2.13's amax keeps the first, NumPy's reduction +0.0, its maximum either by code path)
PICK_AMONG_EQUAL = ("maximum", "minimum", "clamp", "clamp_min", "clamp_max", "amax", "amin", "max", "min",
                    "aminmax", "max_pool2d", "max_pool3d")

ENTRIES: dict = {}
for _family in FAMILIES:
    for _e in _family.ENTRIES:
        if _e.name in ENTRIES:
            raise RuntimeError(f"conformance database: two entries named '{_e.name}'")
        if _e.name in PICK_AMONG_EQUAL:
            _e.zero_sign = False
        ENTRIES[_e.name] = _e


def register(entry, *, replace: bool = False):
    """Add an entry (an out-of-tree op, module or optimizer) to the database."""
    if entry.name in ENTRIES and not replace:
        raise RuntimeError(f"conformance database: an entry named '{entry.name}' exists; pass replace=True")
    ENTRIES[entry.name] = entry
    return entry


def get(name: str):
    try:
        return ENTRIES[name]
    except KeyError:
        raise KeyError(f"the conformance database has no entry '{name}'") from None


def select(patterns=None) -> list:
    """Entries whose name matches any of the glob ``patterns`` (all entries when None)."""
    if not patterns:
        return list(ENTRIES.values())
    return [e for n, e in ENTRIES.items() if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def missing() -> list:
    """plugtorch's registered ops that have no entry (a test fails while this is non-empty).

    Custom ops users define through ``plugtorch.library`` ("namespace::name") are theirs to
    add with ``register``.
    """
    return sorted(n for n in OPS if n not in ENTRIES and "::" not in n)
