"""PyTorch-style ``repr``: ``tensor([1., 2.], device='opencl:0', requires_grad=True)``."""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes

_DEFAULT_SHOWN = {"bool", "int64"}


class _Options:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


options = _Options()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, sci_mode=None, profile=None):
    for k, v in dict(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth).items():
        if v is not None:
            setattr(options, k, v)
    options.sci_mode = sci_mode


def _float_formatter(a):
    finite = a[np.isfinite(a)]
    p = options.precision
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{p}f}"
    absf = np.abs(finite)
    amax, amin = float(absf.max()), float(absf.min()) if absf.size else 0.0
    nonzero = absf[absf > 0]
    nzmin = float(nonzero.min()) if nonzero.size else 0.0
    ints = bool(np.all(finite == np.round(finite)))
    sci = options.sci_mode
    if sci is None:
        sci = amax >= 1e8 or (nzmin and (nzmin < 1e-4 or amax / nzmin > 1000.0)) and not ints
        if ints:
            sci = amax >= 1e8
    if sci:
        return lambda v: _special(v) or f"{v:.{p}e}"
    if ints:
        return lambda v: _special(v) or f"{v:.0f}."
    return lambda v: _special(v) or f"{v:.{p}f}"


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _format_array(a):
    if a.dtype == np.bool_:
        fmt = str
    elif a.dtype.kind in "iu":
        fmt = str
    else:
        a = a.astype(np.float64)
        fmt = _float_formatter(a)
    summarize = a.size > options.threshold
    if a.ndim == 0:
        return fmt(a.item())
    strs = np.vectorize(lambda v: fmt(v), otypes=[object])(a) if a.size else a.astype(object)
    width = max((len(s) for s in strs.reshape(-1)), default=0)
    return _nest(strs, width, 1, summarize)


def _nest(strs, width, depth, summarize):
    indent = " " * (len("tensor(") + depth)
    if strs.ndim == 1:
        items = [s.rjust(width) for s in strs]
        if summarize and len(items) > 2 * options.edgeitems:
            items = items[:options.edgeitems] + ["..."] + items[-options.edgeitems:]
        lines, cur = [], ""
        for it in items:
            piece = it + ", "
            if cur and len(indent) + len(cur) + len(piece) > options.linewidth:
                lines.append(cur.rstrip())
                cur = ""
            cur += piece
        lines.append(cur.rstrip(", ").rstrip())
        return "[" + ("\n" + indent).join(lines) + "]"
    rows = list(range(strs.shape[0]))
    if summarize and len(rows) > 2 * options.edgeitems:
        rows = rows[:options.edgeitems] + [None] + rows[-options.edgeitems:]
    sep = "," + "\n" * (strs.ndim - 1) + indent
    parts = ["..." if r is None else _nest(strs[r], width, depth + 1, summarize) for r in rows]
    return "[" + sep.join(parts) + "]"


def tensor_repr(t):
    a = t._host()
    body = _format_array(np.asarray(a))
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if t.numel() == 0 and t.ndim != 1:
        extras.append(f"size={tuple(t.shape)}")
    shown_default = t.dtype.name in _DEFAULT_SHOWN or t.dtype is _dtypes.get_default_dtype()
    if not shown_default:
        extras.append(f"dtype=plugtorch.{t.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    prefix = "Parameter containing:\n" if getattr(t, "_is_param", False) else ""
    return prefix + "tensor(" + body + "".join(", " + e for e in extras) + ")"
