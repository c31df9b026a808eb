"""What the CI budget of the fuzzer finds broken today, and why.

``test_fuzz.py`` fails on a failure missing here and on an entry here that no longer fails, so
the table is exactly what is broken: delete an entry when its fix lands. Keys are the
fuzzer's ``(op, kind)``; a kind starting ``"<backend>: "`` is that backend's alone (checked
only where the backend is available). ``python -m tests.fuzz --rounds 30 --backend-rounds
opencl=2`` prints each failure with the call and its replay command.
"""
from __future__ import annotations

_NOT_A_TENSOR = ("a list, str or None where a tensor belongs reaches .ndim/.shape/.expand inside the op "
                 "(PyTorch: TypeError \"argument 'input' must be Tensor, not list\")")

_STR_FLAG = "a str for a bool flag (ceil_mode='yes' ...) is taken as its truth value (PyTorch: TypeError)"
_FLOAT_INT = "a float where an int belongs (groups, ignore_index, sizes, dims) is not PyTorch's TypeError"

KNOWN_FAILURES = {
    **{(op, "undocumented AttributeError"): _NOT_A_TENSOR for op in (
        "batch_norm", "conv_transpose2d", "group_norm", "layer_norm")},
    ("avg_pool2d", "no error for string for a bool flag (PyTorch: TypeError)"): _STR_FLAG,
    ("conv1d", "RuntimeError instead of TypeError for float for an int parameter"): _FLOAT_INT + " (groups=2.5)",
    ("conv_transpose2d", "RuntimeError instead of TypeError for float for an int parameter"): _FLOAT_INT
    + " (groups=2.5)",
    ("nll_loss", "no error for float for an int parameter (PyTorch: TypeError)"): _FLOAT_INT + " (ignore_index)",
    ("unflatten", "RuntimeError instead of TypeError for fractional size"): _FLOAT_INT + " (sizes=(1, 3.5))",
    ("flatten", "no error for float dim (PyTorch: TypeError)"): _FLOAT_INT + " (start_dim=1.0)",
    ("transpose", "no error for float dim (PyTorch: TypeError)"): _FLOAT_INT + " (dim0=1.0)",
    ("flatten", "no error for dim out of range (PyTorch: IndexError)"): "flatten(0-d, 0, 4) returns; PyTorch: "
                                                                       "IndexError (range [-1, 0])",
}
