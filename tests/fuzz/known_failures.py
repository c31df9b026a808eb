"""What the CI budget of the fuzzer finds broken today, and why.

``test_fuzz.py`` fails on a failure missing here and on an entry here that no longer fails, so
the table is exactly what is broken: delete an entry when its fix lands. Keys are the
fuzzer's ``(op, kind)``; a kind starting ``"<backend>: "`` is that backend's alone (checked
only where the backend is available). /work/notes/fuzz-findings.md has a reproduction and
PyTorch's behaviour for each.
"""
from __future__ import annotations

_NOT_A_TENSOR = ("a list, str or None where a tensor belongs reaches .ndim/.shape/.expand inside the op "
                 "(PyTorch: TypeError \"argument 'input' must be Tensor, not list\")")
_STR_FLAG = "a str for a bool flag (keepdim='yes', accumulate='yes' ...) is taken as True (PyTorch: TypeError)"

KNOWN_FAILURES = {
    **{(op, "undocumented AttributeError"): _NOT_A_TENSOR for op in (
        "allclose", "batch_norm", "bilinear", "bmm", "broadcast_to", "contiguous", "conv1d", "count_nonzero",
        "diagonal", "dot", "embedding", "equal", "expand_as", "gather", "group_norm", "index_put", "isclose",
        "layer_norm", "masked_fill", "masked_select", "max_pool2d", "mm", "nan_to_num", "outer", "repeat",
        "scaled_dot_product_attention", "unbind", "vector_norm")},
    ("masked_fill", "RuntimeError instead of TypeError for not a tensor"): "a str mask is refused as a non-bool mask",
    ("scatter", "RuntimeError instead of TypeError for not a tensor"): "a str index is refused as a non-int64 index",
    **{(op, "no error for string for a bool flag (PyTorch: TypeError)"): _STR_FLAG for op in (
        "all", "aminmax", "any", "argmin", "index_put", "multinomial", "prod", "scaled_dot_product_attention",
        "std", "std_mean", "sum")},
    ("square", "internal TypeError"): "square('a') fails inside as str * str",
    ("all", "dtype differs from PyTorch's promotion"): "all() of uint8 gives bool; PyTorch keeps uint8",
    ("any", "dtype differs from PyTorch's promotion"): "any() of uint8 gives bool; PyTorch keeps uint8",
    ("gather", "valid call raises RuntimeError"): "int32 index refused; PyTorch 2.13 takes int32 and int64",
    ("scatter_add", "valid call raises RuntimeError"): "int32 index refused; PyTorch 2.13 takes int32 and int64",
    ("empty", "undocumented numpy.MemoryError"): "empty(2**62) lets NumPy's MemoryError out (PyTorch: RuntimeError)",
    ("full", "undocumented numpy.MemoryError"): "full((2**62,), v) lets NumPy's MemoryError out (PyTorch: RuntimeError)",
    ("logical_and", "strict: undocumented KeyError"): "a 0-d cpu float16 operand on strict (no float16) raises "
                                                       "KeyError: plugtorch.float16",
}
