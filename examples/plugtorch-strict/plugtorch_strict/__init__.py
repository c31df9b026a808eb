"""plugtorch-strict: array-api-strict as the plugtorch device type ``strict``.

Installing this package is all it takes; plugtorch finds the backend through the entry point
``[project.entry-points."plugtorch.backends"] strict = "plugtorch_strict:StrictBackend"``.

>>> import plugtorch as pt
>>> (pt.ones(3, device="strict") * 2).tolist()
[2.0, 2.0, 2.0]
"""
from __future__ import annotations

from plugtorch.backends import ArrayAPIBackend

__version__ = "0.1.0"
__all__ = ["StrictBackend"]


class StrictBackend(ArrayAPIBackend):
    """array-api-strict through the generic Array API backend.

    array-api-strict implements the standard and nothing more: no float16 or bfloat16, no
    mixing of dtype kinds, no assignment through integer arrays. That makes it a good check
    that plugtorch asks of a backend only what the standard provides.
    """

    name = "strict"

    def __init__(self):
        import array_api_strict
        super().__init__(array_api_strict, name="strict")
