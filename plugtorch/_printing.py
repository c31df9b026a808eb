"""PyTorch-style ``repr``: ``tensor([1., 2.], device='opencl:0', requires_grad=True)``.

The layout follows ``torch/_tensor_str.py``: one width for every element, taken from the
nonzero finite values for floats; int-valued floats print as ``1.``; scientific notation when
the values span more than three orders of magnitude; ``...`` for summarised dims.
"""
from __future__ import annotations

import math

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
    """Set how tensors print (PyTorch's ``set_printoptions``; ``profile`` is 'default', 'short' or 'full')."""
    if profile is not None:
        presets = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}
        options.precision, options.threshold, options.edgeitems, options.linewidth = presets[profile]
    for k, v in dict(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth).items():
        if v is not None:
            setattr(options, k, v)
    options.sci_mode = sci_mode


_FLOAT8 = frozenset(d.numpy for d in _dtypes.float8_dtypes)   # ml_dtypes' types: NumPy kind "V"


class _Formatter:
    """Formats every element of one tensor to the same width."""

    def __init__(self, a: np.ndarray):
        self.floating = a.dtype.kind == "f" or a.dtype == _dtypes.bfloat16.numpy or a.dtype in _FLOAT8
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        p = options.precision
        if not self.floating:
            for v in a.reshape(-1).tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        vals = a.astype(np.float64).reshape(-1)
        nz = vals[np.isfinite(vals) & (vals != 0)]
        if nz.size == 0:
            return
        absv = np.abs(nz)
        hi, lo = float(absv.max()), float(absv.min())
        self.int_mode = bool(np.all(nz == np.ceil(nz)))
        # the mode first (set_printoptions(sci_mode=) overrides the automatic choice), then the
        # width of the numbers written in that mode, as PyTorch
        if options.sci_mode is not None:
            self.sci_mode = bool(options.sci_mode)
        elif self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        if self.sci_mode:
            self.max_width = max(len(f"{v:.{p}e}") for v in nz.tolist())
        elif self.int_mode:
            self.max_width = max(len(f"{v:.0f}") + 1 for v in nz.tolist())
        else:
            self.max_width = max(len(f"{v:.{p}f}") for v in nz.tolist())

    def width(self) -> int:
        return self.max_width

    def format(self, v) -> str:
        if self.floating:
            p = options.precision
            if self.sci_mode:
                s = f"{v:.{p}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{p}f}"
        else:
            s = str(v)
        return " " * (self.max_width - len(s)) + s


class _ComplexFormatter:
    """Formats complex elements as PyTorch does: the real parts to one width, then the imaginary
    parts (each with its own formatter) signed and followed by ``j``: ``1.0000+2.j``."""

    def __init__(self, a: np.ndarray):
        self.real, self.imag = _Formatter(a.real), _Formatter(a.imag)

    def width(self) -> int:
        return self.real.width() + self.imag.width() + 1   # (the "j"; "+" is in the imaginary width)

    def format(self, v) -> str:
        v = complex(v)
        im = self.imag.format(v.imag).lstrip() + "j"
        return self.real.format(v.real) + (im if im[0] in "+-" else "+" + im)


def _summarized(a: np.ndarray) -> np.ndarray:
    """Only the edge items of every dim (what the formatter sees when summarising)."""
    e = options.edgeitems
    if not any(n > 2 * e for n in a.shape):
        return a
    # one gather of the edge items: np.take would first copy a strided view whole (an expanded
    # tensor of 2**40 elements over one stored element)
    idx = [np.r_[0:e, n - e:n] if n > 2 * e else np.arange(n) for n in a.shape]
    return a[np.ix_(*idx)]


def _vector_str(a, indent, summarize, fmt):
    element_length = fmt.width() + 2
    per_line = max(1, int(math.floor((options.linewidth - indent) / element_length)))
    e = options.edgeitems
    if summarize and not e:   # (a[-0:] would be the whole vector)
        items = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        items = [fmt.format(v) for v in a[:e].tolist()] + [" ..."] + [fmt.format(v) for v in a[-e:].tolist()]
    else:
        items = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt)
    e = options.edgeitems
    if summarize and a.shape[0] > 2 * e:
        rows = ([_tensor_str(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."] +
                [_tensor_str(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0] - e, a.shape[0])])
    else:
        rows = [_tensor_str(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0])]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def _format_array(a, indent):
    if a.size == 0:
        return "[]"
    summarize = a.size > options.threshold
    shown = _summarized(a) if summarize else a
    fmt = _ComplexFormatter(shown) if a.dtype.kind == "c" else _Formatter(shown)
    return _tensor_str(a, indent, summarize, fmt)


def tensor_repr(t):
    meta = t.device.type == "meta"   # no data to show: "tensor(..., device='meta', size=(3, 4))", as PyTorch
    a = None if meta else np.asarray(t._host())
    prefix = "tensor("
    body = "..." if meta else _format_array(a, len(prefix))
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if meta or (t.numel() == 0 and t.ndim != 1) or (t.numel() and not options.edgeitems):
        extras.append(f"size={tuple(t.shape)}")   # (edgeitems=0 shows no element)
    if meta or t.numel() == 0:   # no elements tell int64 or bool apart from the default dtype: PyTorch names it
        shown_default = t.dtype is _dtypes.get_default_dtype()
    else:
        shown_default = (t.dtype.name in _DEFAULT_SHOWN or t.dtype is _dtypes.get_default_dtype()
                         or t.dtype is _dtypes.default_complex_dtype())
    if not shown_default:
        extras.append(f"dtype=plugtorch.{t.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    if t._fw_grad is not None:   # (a dual tensor of autograd.forward_ad)
        extras.append(f"tangent={tensor_repr(t._fw_grad)}")
    param = "Parameter containing:\n" if getattr(t, "_is_param", False) else ""
    return param + _add_suffixes(prefix + body, extras, len(prefix))


def _add_suffixes(text, suffixes, indent):
    """``text, suffix, ...)``; a suffix that would pass the line width starts a new line, indented
    to the opening parenthesis, as PyTorch's repr does."""
    parts = [text]
    line = len(text) - text.rfind("\n") + 1   # (PyTorch's count, one more than the line's length)
    for suffix in suffixes:
        if line + len(suffix) + 2 > options.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line += len(suffix) + 2
    return "".join(parts) + ")"
