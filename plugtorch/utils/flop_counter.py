"""``plugtorch.utils.flop_counter``: count the floating-point operations of matrix products,
convolutions and attention, as ``torch.utils.flop_counter``.

``FlopCounterMode`` is a dispatch mode: it sees every op called under it, forward and the
backward formulas alike (they are plugtorch ops), and counts those with a formula below, keyed
by the op's registry name. An op counted is counted once: the products its decomposition runs
inside (``linear`` -> ``_matmul``) are not counted again. The formulas are PyTorch's:
``2 * M * K * N`` for a ``(M, K) @ (K, N)`` product, ``conv_flop_count`` for convolutions
(additions of a bias and the pointwise work around them are not counted).

>>> from plugtorch.utils.flop_counter import FlopCounterMode
>>> with FlopCounterMode(display=False) as counter:
...     plugtorch.nn.Linear(64, 128)(plugtorch.ones(32, 64))       # doctest: +SKIP
>>> counter.get_total_flops()                                      # doctest: +SKIP
524288
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from math import prod

from plugtorch.dispatch.dispatcher import DispatchMode

__all__ = ["FlopCounterMode", "conv_flop_count", "mm_flop", "bmm_flop", "sdpa_flop_count"]


def mm_flop(a_shape, b_shape) -> int:
    """``(M, K) @ (K, N)``: 2 * M * K * N (one multiply and one add per term)."""
    m, k = a_shape
    return 2 * m * k * b_shape[-1]


def bmm_flop(a_shape, b_shape) -> int:
    """``(B, M, K) @ (B, K, N)``: 2 * B * M * K * N."""
    b, m, k = a_shape
    return 2 * b * m * k * b_shape[-1]


def conv_flop_count(x_shape, w_shape, out_shape, transposed=False) -> int:
    """PyTorch's convolution count: 2 * batch * c_out * c_in * prod(kernel) * prod(spatial), the
    spatial size being the output's (the input's for a transposed convolution)."""
    batch = x_shape[0]
    spatial = (x_shape if transposed else out_shape)[2:]
    c_out, c_in, *kernel = w_shape
    return 2 * prod(spatial) * prod(kernel) * batch * c_out * c_in


def sdpa_flop_count(q_shape, k_shape, v_shape) -> int:
    """Attention's two products: Q K^T (2 * B * L * S * E) and A V (2 * B * L * S * Ev), B being
    the batch and head dims."""
    b = prod(q_shape[:-2])
    lq, e = q_shape[-2:]
    s, ev = k_shape[-2], v_shape[-1]
    return 2 * b * lq * s * e + 2 * b * lq * s * ev


def _matmul_flop(a, b, out):
    # PyTorch sends a product with a 1-D right operand to mv or dot, which it does not count
    if b.ndim < 2:
        return 0
    m = a.shape[-2] if a.ndim >= 2 else 1
    k, n = b.shape[-2], b.shape[-1]
    batch = prod(out.shape[:-2]) if a.ndim >= 2 else prod(out.shape[:-1])
    return 2 * batch * m * k * n


def _linear_flop(input, weight, bias=None, *, out=None):
    if weight.ndim != 2:
        return 0
    return 2 * prod(input.shape[:-1]) * weight.shape[0] * weight.shape[1]


def _linear_backward_flop(grad, input, weight, output_mask=(True, True, True), *, out=None):
    rows = prod(grad.shape[:-1])
    one = 2 * rows * weight.shape[0] * weight.shape[1]
    return one * bool(output_mask[0]) + one * bool(output_mask[1] and input.ndim >= 2)


def _conv_flop(input, weight, *args, out=None, **kwargs):
    x = tuple(input.shape) if input.ndim == weight.ndim else (1,) + tuple(input.shape)
    o = tuple(out.shape) if out.ndim == weight.ndim else (1,) + tuple(out.shape)
    return conv_flop_count(x, tuple(weight.shape), o)


def _conv_transpose_flop(input, weight, *args, out=None, **kwargs):
    x = tuple(input.shape) if input.ndim == weight.ndim else (1,) + tuple(input.shape)
    return conv_flop_count(x, tuple(weight.shape), tuple(out.shape), transposed=True)


def _sdpa_flop(query, key, value, *args, out=None, **kwargs):
    return sdpa_flop_count(tuple(query.shape), tuple(key.shape), tuple(value.shape))


def _einsum_flop(equation, *operands, out=None):
    """PyTorch's einsum contracts the operands pairwise, left to right, with bmm: first summing
    away the subscripts only one of the pair has and nothing later needs, then counting
    2 * prod(all remaining sizes) for a pair that shares a summed subscript (none: a product)."""
    from plugtorch.dispatch.ops.composite import _einsum_parse
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, result = _einsum_parse(equation, operands)
    sizes = {}
    for term, x in zip(terms, operands):
        for c, n in zip(term, tuple(x.shape)[len(x.shape) - len(term):]):
            sizes[c] = max(sizes.get(c, 1), n)
    flops = 0
    left = set(terms[0])
    for k in range(1, len(terms)):
        right = set(terms[k])
        needed = set(result).union(*terms[k + 1:])
        left = {c for c in left if c in right or c in needed}
        right = {c for c in right if c in left or c in needed}
        summed = (left & right) - needed
        if summed:
            flops += 2 * prod(sizes[c] for c in left | right)
        left = (left | right) - summed
    return flops


# registry op name -> flops(*op args, out=result, **op kwargs)
FLOP_FORMULAS = {
    "mm": lambda a, b, *, out=None: mm_flop(tuple(a.shape), tuple(b.shape)),
    "addmm": lambda input, a, b, *args, out=None, **kw: mm_flop(tuple(a.shape), tuple(b.shape)),
    "bmm": lambda a, b, *, out=None: bmm_flop(tuple(a.shape), tuple(b.shape)),
    "baddbmm": lambda input, a, b, *args, out=None, **kw: bmm_flop(tuple(a.shape), tuple(b.shape)),
    "matmul": lambda a, b, *, out=None: _matmul_flop(a, b, out),
    "_matmul": lambda a, b, *, out=None: _matmul_flop(a, b, out),
    "linear": _linear_flop,
    "_linear_backward": _linear_backward_flop,
    "conv1d": _conv_flop,
    "conv2d": _conv_flop,
    "conv_transpose2d": _conv_transpose_flop,
    "scaled_dot_product_attention": _sdpa_flop,
    "einsum": _einsum_flop,
}


class FlopCounterMode(DispatchMode):
    """Count FLOPs of the ops run inside ``with FlopCounterMode():``; print a table on exit when
    ``display``. ``get_flop_counts()`` maps ``'Global'`` to {op name: FLOPs}.

    ``mods`` is accepted and ignored, as in PyTorch (which warns that it is no longer needed);
    counts are not split per module (plugtorch has no global module hooks), so every FLOP is
    under ``'Global'``. ``custom_mapping``: {op name: fn(*args, out=result, **kwargs) -> FLOPs}
    adds or replaces formulas.
    """

    def __init__(self, mods=None, depth: int = 2, display: bool = True, custom_mapping=None):
        if mods is not None:
            warnings.warn("mods argument is not needed anymore, you can stop passing it", stacklevel=2)
        self.flop_counts: dict = defaultdict(lambda: defaultdict(int))
        self.depth = depth
        self.display = display
        self.flop_registry = {**FLOP_FORMULAS, **(custom_mapping or {})}
        self._inside = 0

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        formula = self.flop_registry.get(op.name)
        if formula is None or self._inside:
            return call(args, kwargs)
        self._inside += 1     # the products a counted op runs inside it are its own
        try:
            out = call(args, kwargs)
        finally:
            self._inside -= 1
        flops = formula(*args, out=out, **kwargs)
        if flops:
            self.flop_counts["Global"][op.name] += flops
        return out

    def __enter__(self):
        self.flop_counts.clear()
        self._inside = 0
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        if self.display:
            print(self.get_table(self.depth))
        return False

    def get_total_flops(self) -> int:
        """All FLOPs counted."""
        return sum(self.flop_counts["Global"].values())

    def get_flop_counts(self) -> dict:
        """{module name ('Global'): {op name: FLOPs}}."""
        return {k: dict(v) for k, v in self.flop_counts.items()}

    def get_table(self, depth=None) -> str:
        """The counts as PyTorch prints them: module, FLOP (with a K/M/B/T suffix), % of total."""
        total = self.get_total_flops()
        suffix = _suffix(total)
        rows = []
        for mod in sorted(self.flop_counts):
            counts = self.flop_counts[mod]
            rows.append([mod, _with_suffix(sum(counts.values()), suffix), _percent(sum(counts.values()), total)])
            for name, v in counts.items():
                rows.append(["- " + name, _with_suffix(v, suffix), _percent(v, total)])
        if not rows:
            rows = [["Global", "0", "0%"]]
        return _tabulate(["Module", "FLOP", "% Total"], rows)


_SUFFIXES = ["", "K", "M", "B", "T"]


def _suffix(number):
    # 1.01B shows as 1001M, not 1.001B, as PyTorch's get_suffix_str
    return _SUFFIXES[max(0, min(len(_SUFFIXES) - 1, (len(str(number)) - 2) // 3))]


def _with_suffix(number, suffix):
    index = _SUFFIXES.index(suffix)
    return f"{number / 1000 ** index:.3f}" + suffix


def _percent(num, denom):
    return "0%" if denom == 0 else f"{num / denom:.2%}"


def _tabulate(header, rows):
    # as tabulate's "simple" format, which PyTorch uses: the first column left-aligned, the others
    # right-aligned, each at least 2 wider than its header; cells that read as numbers printed as
    # numbers ("48.000" -> "48")
    rows = [[_as_number(c) for c in r] for r in rows]
    widths = [max([len(header[i]) + 2] + [len(r[i]) for r in rows]) for i in range(len(header))]

    def line(r):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def _as_number(cell):
    try:
        v = float(cell)
    except ValueError:
        return cell
    return str(int(v)) if cell.lstrip("-").isdigit() else format(v, "g")
