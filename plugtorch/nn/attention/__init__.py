"""``plugtorch.nn.attention``: which kernels ``scaled_dot_product_attention`` may use.

plugtorch has one attention kernel, the math one (softmax(Q Kᵀ · scale + mask) V written with
plugtorch ops, so it runs on every backend). ``sdpa_kernel`` takes PyTorch's backend names so
code written for PyTorch runs unchanged: a block that allows ``SDPBackend.MATH`` (alone or with
others) runs it; a block that allows only backends plugtorch does not have (flash, memory
efficient, cuDNN, overrideable) makes attention raise RuntimeError at the call, as PyTorch does
when none of the allowed backends can run, rather than silently running another kernel.

>>> import plugtorch as pt
>>> from plugtorch.nn.attention import SDPBackend, sdpa_kernel
>>> q = pt.ones(1, 2, 4)
>>> with sdpa_kernel([SDPBackend.MATH, SDPBackend.FLASH_ATTENTION]):
...     pt.nn.functional.scaled_dot_product_attention(q, q, q).shape
plugtorch.Size([1, 2, 4])
"""
from __future__ import annotations

import contextlib
import enum

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False     # (PyTorch's: warn why a fused kernel was not used; there is none)


class SDPBackend(enum.Enum):
    """The kernels of ``scaled_dot_product_attention``, with PyTorch's names and values."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __int__(self):
        return self.value


_ALL = (SDPBackend.MATH, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE)
# Process-wide, as PyTorch's flags (torch.backends.cuda.*_sdp_enabled): not per thread.
_enabled = set(_ALL)
_priority = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
             SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]


def _cur_sdpa_kernel_backends(with_priority: bool = False) -> list:
    """The backends enabled now, in value order (or in priority order)."""
    order = _priority if with_priority else _ALL
    return [b for b in order if b in _enabled]


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Allow only ``backends`` (one ``SDPBackend`` or a list) for scaled dot product attention
    inside the block; with ``set_priority=True`` the list's order is also their priority. The
    previous backends and priority come back when the block ends.

    >>> from plugtorch.nn.attention import SDPBackend, sdpa_kernel
    >>> with sdpa_kernel(SDPBackend.MATH):
    ...     pass
    """
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, "
                             f"got {type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    for b in backends:
        if not isinstance(b, SDPBackend):
            raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, "
                                 f"got a list holding {type(b).__name__} {b!r}")
    backends = list(dict.fromkeys(backends))
    old_enabled, old_priority = set(_enabled), list(_priority)
    try:
        _enabled.clear()
        _enabled.update(b for b in backends if b is not SDPBackend.ERROR)
        if set_priority:
            _priority[:] = [b for b in backends if b is not SDPBackend.ERROR] + \
                [b for b in old_priority if b not in backends]
        yield {}
    finally:
        _enabled.clear()
        _enabled.update(old_enabled)
        _priority[:] = old_priority


def _check_math_enabled(op: str = "scaled_dot_product_attention") -> None:
    """Raise at the call when ``sdpa_kernel`` left out the math kernel, the only one plugtorch has."""
    if SDPBackend.MATH not in _enabled:
        allowed = ", ".join(b.name for b in _cur_sdpa_kernel_backends()) or "none"
        raise RuntimeError(
            f"No viable backend for {op} was found: sdpa_kernel() allows only [{allowed}], and plugtorch "
            "has only the math kernel (SDPBackend.MATH); add SDPBackend.MATH to the backends sdpa_kernel() is given")
