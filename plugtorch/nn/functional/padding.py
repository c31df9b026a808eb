"""``pad``: constant, reflect, replicate and circular padding of the trailing dimensions.

>>> import plugtorch as pt
>>> pt.nn.functional.pad(pt.ones(1, 2), (1, 0)).tolist()
[[0.0, 1.0, 1.0]]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.dispatch.arguments import as_ints
from plugtorch.nn.functional._utils import check_tensors


def _pad_constant_dim(x, d, left, right, value):
    if x.shape[d] + left + right < 0:   # PyTorch narrows by the negative padding: its error
        raise RuntimeError(f"pad(): narrow(): length must be non-negative: padding ({left}, {right}) of dimension {d} "
                           f"(size {x.shape[d]}) leaves a negative size")
    if left < 0:
        x = x.narrow(d, -left, x.shape[d] + left)
        left = 0
    if right < 0:
        x = x.narrow(d, 0, x.shape[d] + right)
        right = 0
    if not left and not right:
        return x
    parts = []
    for n in (left, right):
        shape = list(x.shape)
        shape[d] = n
        parts.append(pt.full(shape, value, dtype=x.dtype, device=x.device) if n else None)
    return pt.cat([p for p in (parts[0], x, parts[1]) if p is not None], d)


def _pad_constant(x, pad, value):
    """One filled tensor and one copy into its interior (a view), for non-negative padding."""
    shape = list(x.shape)
    region = []
    for k in range(len(pad) // 2):
        d = x.ndim - 1 - k
        region.append((d, pad[2 * k], pad[2 * k] + shape[d]))
        shape[d] += pad[2 * k] + pad[2 * k + 1]
    out = pt.full(shape, value, dtype=x.dtype, device=x.device)
    inner = out
    for d, start, end in region:
        inner = pt.ops.slice(inner, d, start, end, 1)
    inner.copy_(x)
    return out


def _source_index(mode, n, left, right):
    """For each padded position along a dim, the input position it copies."""
    i = pt.arange(-left, n + right)
    if mode == "replicate":
        return i.clamp(0, n - 1)
    if mode == "circular":
        return i.remainder(n)
    # reflect: mirror without repeating the edge
    period = 2 * (n - 1)
    j = i.abs().remainder(period) if period else i * 0
    return pt.where(j >= n, period - j, j)


def check_non_constant_dims(ndim, pad_len):
    """PyTorch pads 1, 2 or 3 trailing dims in the non-constant modes, of an input with one or two
    dims more (an optional batch dim and the channels): anything else is its NotImplementedError."""
    if pad_len not in (2, 4, 6) or ndim not in (pad_len // 2 + 1, pad_len // 2 + 2):
        raise NotImplementedError(
            f"Padding size {pad_len} is not supported for {ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def pad(input, pad, mode: str = "constant", value=None):
    """Pad the last ``len(pad) // 2`` dims; ``pad`` lists (left, right) from the last dim back."""
    check_tensors("pad", input=input)
    pad = as_ints("pad", "pad", pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension "
                           f"but got padding length {len(pad)} and input of dimension {input.ndim}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and value not in (None, 0):
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if mode != "constant":
        check_non_constant_dims(input.ndim, len(pad))
    if mode == "constant" and min(pad) >= 0:
        return _pad_constant(input, [int(v) for v in pad], 0 if value is None else value)
    if mode in ("reflect", "replicate"):
        # the registry ops (nn/ops.py) PyTorch's autocast CPU list names: reflection_pad1d ...
        from plugtorch.nn.ops import WRAPPERS
        name = f"{'reflection' if mode == 'reflect' else 'replication'}_pad{len(pad) // 2}d"
        return WRAPPERS[name](input, pad)
    return _pad_modes(input, pad, mode, value)


def _pad_modes(input, pad, mode, value=None):
    """The non-constant modes (and constant with negative pads): per dim, an index_select of the
    mode's source positions."""
    out = input
    for k in range(len(pad) // 2):
        d = input.ndim - 1 - k
        left, right = int(pad[2 * k]), int(pad[2 * k + 1])
        if mode == "constant":
            out = _pad_constant_dim(out, d, left, right, 0 if value is None else value)
            continue
        n = out.shape[d]
        size = n + left + right
        if size < (1 if mode != "circular" and len(pad) == 2 else 0):   # PyTorch's 1-d kernels refuse 0 too
            raise RuntimeError(f"pad(): input ({'WHD'[k]}: {n}) is too small. Calculated output {'WHD'[k]}: {size} "
                               f"for {mode} padding ({left}, {right}) of input {list(input.shape)}")
        if mode == "circular" and (left < 0 or right < 0):
            # PyTorch crops first, then wraps the cropped signal: (1, -2) on [1, 2, 3, 4] is [2, 1, 2]
            crop_l, crop_r = max(-left, 0), max(-right, 0)
            out = out.narrow(d, crop_l, n - crop_l - crop_r)
            n, left, right = n - crop_l - crop_r, max(left, 0), max(right, 0)
        if mode == "reflect" and (left >= n or right >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({left}, {right}) at dimension {d} of input {list(input.shape)}")
        if mode == "circular" and (left > n or right > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if left or right:
            out = out.index_select(d, _source_index(mode, n, left, right).to(out.device))
    return out


def _mode_pad(name, mode, pad_len):
    def fn(input, padding):
        check_tensors(name, input=input)
        padding = as_ints(name, "padding", padding)
        if len(padding) != pad_len:
            raise RuntimeError(f"{name}(): expected padding of length {pad_len} (left, right{', top, bottom' * (pad_len > 2)}"
                               f"{', front, back' * (pad_len > 4)}), got {len(padding)}")
        check_non_constant_dims(input.ndim, pad_len)
        dims = pad_len // 2
        if 0 in input.shape[input.ndim - dims - 1:]:     # only an optional batch dim may be empty
            raise RuntimeError(f"{name}(): Expected {dims + 1}D or {dims + 2}D (batch mode) tensor with possibly 0 "
                               f"batch size and other non-zero dimensions for input, but got: {list(input.shape)}")
        return _pad_modes(input, padding, mode)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``F.pad(input, padding, mode={mode!r})`` over the last {pad_len // 2} dims, as PyTorch's "
                  f"``{name}`` (a registry op: autocast's CPU list names it).")
    return fn


reflection_pad1d = _mode_pad("reflection_pad1d", "reflect", 2)
reflection_pad2d = _mode_pad("reflection_pad2d", "reflect", 4)
reflection_pad3d = _mode_pad("reflection_pad3d", "reflect", 6)
replication_pad1d = _mode_pad("replication_pad1d", "replicate", 2)
replication_pad2d = _mode_pad("replication_pad2d", "replicate", 4)
replication_pad3d = _mode_pad("replication_pad3d", "replicate", 6)
