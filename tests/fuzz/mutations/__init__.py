"""Changes to a valid call, by argument kind, each with what PyTorch 2.13 does afterwards.

``KEEP`` changes leave a call's validity alone (a layout, the negative spelling of a dim, a
tuple for a list, keywords, the public function or the method); ``BREAK`` changes make a
valid call invalid and set the exception class PyTorch raises (checked against torch 2.13:
``Dimension out of range`` is an IndexError, a negative size a RuntimeError, a float where
an int belongs a TypeError ...). Each change is ``fn(gen) -> str | None``: it edits
``gen.call`` and returns its name, or returns None when the call has nothing it applies to.
"""
from __future__ import annotations

from .base import Gen
from .invalid import (bad_broadcast, dim_out_of_range, empty_input, float_dim, float_for_int, fractional_count,
                      fractional_size, huge_size, index_out_of_range, negative_count, negative_index, negative_size,
                      not_a_tensor, repeated_dims, scalar_out_of_range, str_flag)
from .keep import (change_dtype, change_dtype_arg, change_scalar, int32_index, keywords, list_tuple, negative_dim,
                   relayout, retarget, toggle_flag)

__all__ = ["Gen", "KEEP", "KEEP_INTERNAL", "BREAK"]

KEEP = (relayout, relayout, relayout, negative_dim, list_tuple, keywords, retarget, retarget, change_dtype,
        change_scalar, int32_index, change_dtype_arg, toggle_flag)
# internal ops (``_to_dtype``, ``_cross_entropy_backward`` ...) get only their public callers'
# arguments: they are fuzzed for layouts and spellings, not for argument checking
KEEP_INTERNAL = (relayout, relayout, negative_dim, list_tuple, keywords)
BREAK = (dim_out_of_range, repeated_dims, float_dim, negative_size, fractional_size, huge_size, negative_count,
         fractional_count, not_a_tensor, index_out_of_range, negative_index, bad_broadcast, scalar_out_of_range,
         str_flag, empty_input, float_for_int)
