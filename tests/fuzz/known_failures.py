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

KNOWN_FAILURES = {
    **{(op, "undocumented AttributeError"): _NOT_A_TENSOR for op in ("group_norm", "layer_norm")},
    ("all", "dtype differs from PyTorch's promotion"): "all() of uint8 gives bool; PyTorch keeps uint8",
    ("any", "dtype differs from PyTorch's promotion"): "any() of uint8 gives bool; PyTorch keeps uint8",
    ("gather", "valid call raises RuntimeError"): "int32 index refused; PyTorch 2.13 takes int32 and int64",
    ("scatter_add", "valid call raises RuntimeError"): "int32 index refused; PyTorch 2.13 takes int32 and int64",
    ("logical_and", "strict: undocumented KeyError"): "a 0-d cpu float16 operand on strict (no float16) raises "
                                                       "KeyError: plugtorch.float16",
}
