"""matmul: the one linear-algebra core op (batched, with broadcast batch dims)."""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.registry import register_op


def _matmul_meta(input, other):
    """Matrix product of tensors with ndim >= 2 whose batch dims broadcast (the core kernel)."""
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, M.Tensor):
            raise TypeError(f"matmul(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if input.ndim < 2 or other.ndim < 2:
        raise RuntimeError("_matmul(): both arguments must be at least 2-D")
    dev = M.common_device("matmul", (input, other))
    if input.shape[-1] != other.shape[-2]:
        raise RuntimeError(f"matmul(): mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, input.shape[-2:]))} and {'x'.join(map(str, other.shape[-2:]))}); "
                           f"shapes {tuple(input.shape)} and {tuple(other.shape)}")
    M.broadcast_shapes(tuple(input.shape[:-2]), tuple(other.shape[:-2]), op="matmul")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"matmul(): expected both arguments to have the same dtype, but got "
                           f"{input._dtype} and {other._dtype}; cast one with .to(dtype)")
    if input._dtype is _dtypes.bool:
        raise M.not_implemented_for("matmul", input._dtype, "convert bool tensors with .float() first")
    return dev, (input._data, other._data), input._dtype


register_op("_matmul", _matmul_meta, tags=("linalg",))
