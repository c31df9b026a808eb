"""Automatic mixed precision: ``autocast`` (a dispatch mode over one op policy table) and
``GradScaler``. See docs/amp.md.

>>> import plugtorch as pt
>>> with pt.amp.autocast("cpu"):
...     y = pt.nn.functional.linear(pt.ones(2, 3), pt.ones(4, 3))
>>> y.dtype
plugtorch.bfloat16
"""
from plugtorch.amp import ops  # noqa: F401  (registers _amp_foreach_non_finite_check_and_unscale_ ...)
from plugtorch.amp.autocast_mode import (autocast, clear_autocast_cache, get_autocast_dtype,  # noqa: F401
                                         is_autocast_available, is_autocast_cache_enabled, is_autocast_enabled,
                                         set_autocast_dtype)
from plugtorch.amp.custom_autograd import custom_bwd, custom_fwd  # noqa: F401
from plugtorch.amp.grad_scaler import GradScaler, OptState  # noqa: F401

__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype",
           "set_autocast_dtype", "is_autocast_cache_enabled", "clear_autocast_cache", "custom_fwd", "custom_bwd"]
