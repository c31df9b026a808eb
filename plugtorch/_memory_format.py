"""``plugtorch.memory_format``: how a tensor's dims are laid out in memory (PyTorch's ``torch.memory_format``).

``channels_last`` keeps a 4-D tensor's logical shape NCHW and stores it NHWC (strides
``(H*W*C, 1, W*C, C)``); ``channels_last_3d`` does the same for 5-D NCDHW tensors. plugtorch needs no
backend support for them: such a tensor is a permuted view of a contiguous NHWC array, so every
backend that reports real strides (cpu, opencl, cuda, Array API plug-ins) holds one.

>>> import plugtorch as pt
>>> x = pt.ones(2, 3, 4, 5).contiguous(memory_format=pt.channels_last)
>>> x.stride(), x.is_contiguous(memory_format=pt.channels_last)
((60, 1, 15, 3), True)
"""
from __future__ import annotations


class memory_format:
    """A memory layout of a tensor's dims: ``contiguous_format``, ``channels_last``,
    ``channels_last_3d`` or ``preserve_format`` (the four objects there are)."""

    __slots__ = ("name",)

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'plugtorch.memory_format' instances; use plugtorch.contiguous_format, "
                        "plugtorch.channels_last, plugtorch.channels_last_3d or plugtorch.preserve_format")

    def __repr__(self):
        return f"plugtorch.{self.name}"

    def __reduce__(self):
        return self.name   # pickled by name, as a module global (PyTorch's too)


def _make(name):
    f = object.__new__(memory_format)
    f.name = name
    return f


contiguous_format = _make("contiguous_format")
channels_last = _make("channels_last")
channels_last_3d = _make("channels_last_3d")
preserve_format = _make("preserve_format")

# the layouts other than row-major: rank, the dims in memory order (outermost first), inverse
_PERMUTED = {channels_last: (4, (0, 2, 3, 1), (0, 3, 1, 2)),
             channels_last_3d: (5, (0, 2, 3, 4, 1), (0, 4, 1, 2, 3))}


def check(op, fmt, allow_none=True):
    """``fmt``, after checking it is a memory_format (None passes where the argument is optional)."""
    if isinstance(fmt, memory_format) or (fmt is None and allow_none):
        return fmt
    raise TypeError(f"{op}(): argument 'memory_format' must be plugtorch.memory_format, not {type(fmt).__name__}")


def check_rank(fmt, ndim):
    """PyTorch's error for a layout that does not fit the tensor's rank."""
    spec = _PERMUTED.get(fmt)
    if spec is not None and ndim != spec[0]:
        raise RuntimeError(f"required rank {spec[0]} tensor to use {fmt.name} format (got a rank {ndim} "
                           f"tensor; {fmt.name} is for {'NCHW' if spec[0] == 4 else 'NCDHW'} tensors)")


def is_contiguous_as(shape, strides, fmt) -> bool:
    """Whether ``strides`` lay ``shape`` out densely in ``fmt`` (size-1 dims, whatever their stride,
    count as laid out; PyTorch's ``is_contiguous(memory_format=...)``).

    >>> is_contiguous_as((2, 3, 4, 5), (60, 1, 15, 3), channels_last)
    True
    """
    spec = _PERMUTED.get(fmt)
    if spec is None:
        from plugtorch.backends.base import is_contiguous
        return is_contiguous(shape, strides)
    if len(shape) != spec[0]:
        return False
    expected = 1
    for d in reversed(spec[1]):
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def strides_like(shape, strides, fmt) -> bool:
    """Whether ``strides`` suggest ``fmt``: PyTorch's ``is_channels_last_strides_2d/3d``, the test
    behind ``suggest_memory_format`` (sliced NHWC tensors count; the ambiguous N111 and N1H1 shapes
    are taken as row-major)."""
    spec = _PERMUTED.get(fmt)
    if spec is None or len(shape) != spec[0] or strides[1] == 0:
        return False
    low = 0
    for d in reversed(spec[1]):
        if shape[d] == 0 or strides[d] < low:
            return False
        if d == 0 and low == strides[1]:
            return False
        low = strides[d] * shape[d] if shape[d] > 1 else strides[d]
    return True


def suggest(t):
    """The layout ``t``'s strides suggest: ``channels_last(_3d)`` or ``contiguous_format``."""
    nd = t.ndim
    if nd == 4 or nd == 5:
        fmt = channels_last if nd == 4 else channels_last_3d
        if strides_like(tuple(t.shape), t.stride(), fmt):
            return fmt
    return contiguous_format


def dense_order(shape, strides):
    """The dims of a (shape, strides) layout in memory order, outermost first: PyTorch's
    ``infer_dense_strides`` (the same stable sort TensorIterator uses: by stride, the smaller
    size first among equal strides, a 0-stride dim left where it is).

    >>> dense_order((2, 3, 4), (1, 8, 2)), dense_order((2, 3), (0, 1))
    ((1, 2, 0), (0, 1))
    """
    nd = len(shape)
    perm = list(range(nd - 1, -1, -1))      # innermost first

    def should_swap(d0, d1):
        s0, s1 = strides[d0], strides[d1]
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return -1 if s0 < s1 else 1
        return 1 if shape[d0] > shape[d1] else 0

    for i in range(1, nd):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    return tuple(reversed(perm))


def preserved(t):
    """The layout ``preserve_format`` gives a copy of ``t``, as PyTorch's: a row-major tensor's is
    row-major; any other keeps ``t``'s order of dims in memory (a transposed or permuted tensor's
    copy is transposed or permuted the same way, a channels_last one's is channels_last), densely.
    A layout is a memory_format or, for other permutations, the dims in memory order."""
    if t.is_contiguous():
        return contiguous_format
    nd = t.ndim
    order = dense_order(tuple(t.shape), t.stride())
    if order == tuple(range(nd)):
        return contiguous_format
    for fmt, spec in _PERMUTED.items():
        if order == spec[1]:
            return fmt
    return order


def _spec(fmt):
    # (rank, memory order, inverse) of a permuted layout; None for row-major
    if fmt.__class__ is tuple:
        inverse = [0] * len(fmt)
        for i, d in enumerate(fmt):
            inverse[d] = i
        return len(fmt), fmt, tuple(inverse)
    return _PERMUTED.get(fmt)


def laid_out(t, fmt) -> bool:
    """Whether ``t`` is laid out densely in ``fmt`` (a memory_format or a memory order of dims)."""
    spec = _spec(fmt)
    if spec is None or fmt.__class__ is not tuple:
        return t.is_contiguous(memory_format=fmt)
    from plugtorch.backends.base import is_contiguous
    order = spec[1]
    st = t.stride()
    return is_contiguous(tuple(t.shape[d] for d in order), tuple(st[d] for d in order))


def target(t, fmt):
    """The layout a copy of ``t`` asked for in ``fmt`` (None: preserve) gets, after the rank check."""
    if fmt is None or fmt is preserve_format:
        return preserved(t)
    check_rank(fmt, t.ndim)
    return fmt


def in_memory_order(shape, fmt):
    """``(physical shape, inverse permutation)``: make a row-major tensor of the physical shape, then
    ``.permute(inverse)`` gives ``shape`` laid out in ``fmt`` (None for contiguous_format)."""
    spec = _spec(fmt)
    if spec is None:
        return tuple(shape), None
    return tuple(shape[d] for d in spec[1]), spec[2]


def make(maker, shape, fmt):
    """``maker(shape)`` (a factory of row-major tensors) laid out in ``fmt``."""
    phys, inverse = in_memory_order(tuple(shape), fmt)
    out = maker(phys)
    return out if inverse is None else out.permute(inverse)


def copy_as(t, fmt, clone):
    """A copy of ``t`` laid out in ``fmt`` (``clone``: the registry's row-major copy)."""
    spec = _spec(fmt)
    if spec is None:
        return clone(t)
    return clone(t.permute(spec[1])).permute(spec[2])


def _suggests_channels_last(a) -> bool:
    # (on the path of every conv2d call: a row-major tensor is turned down at its second dim)
    shape = getattr(getattr(a, "_data", None), "shape", ())
    return len(shape) == 4 and strides_like(shape, a.stride(), channels_last)


def all_channels_last(tensors, dim) -> bool:
    """Whether ``cat(tensors, dim)`` gets channels_last operands only, of sizes that agree outside
    ``dim`` (a mismatch goes the usual way, to the usual error)."""
    if tensors.__class__ is not list or not tensors or not _suggests_channels_last(tensors[0]):
        return False
    first = tensors[0]._data.shape
    keep = [i for i in range(4) if i != dim % 4]
    return all(_suggests_channels_last(t) and all(t._data.shape[i] == first[i] for i in keep) for t in tensors[1:])


def keep_channels_last(out, *inputs):
    """``out`` (a tensor or a tuple of them) laid out channels_last when one of ``inputs`` suggests it,
    as PyTorch's convolutions, poolings and normalizations lay out theirs; a copy only where the kernel
    returned another layout."""
    if not any(_suggests_channels_last(a) for a in inputs):
        return out
    if isinstance(out, tuple):
        return type(out)(keep_channels_last(o, *inputs) for o in out) if not hasattr(out, "_fields") else \
            type(out)(*(keep_channels_last(o, *inputs) for o in out))
    if getattr(out, "ndim", 0) == 4 and not out.is_contiguous(memory_format=channels_last):
        return out.contiguous(memory_format=channels_last)
    return out


def keeps_channels_last(fn):
    """Decorate ``fn(input, ...)`` so a channels_last input (or second argument: a convolution's
    weight) gives a channels_last result (see ``keep_channels_last``)."""
    def wrapped(*args, **kwargs):
        out = fn(*args, **kwargs)
        return keep_channels_last(out, *(args[:2] if args else (kwargs.get("input"), kwargs.get("weight"))))
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(wrapped, attr, getattr(fn, attr, None))
    wrapped.__wrapped__ = fn
    return wrapped


__all__ = ["memory_format", "contiguous_format", "channels_last", "channels_last_3d", "preserve_format"]
