"""FFT ops of ``plugtorch.fft``: ``fft_fftn``/``fft_ifftn`` (complex to complex; a real input is
promoted to complex first), ``fft_rfftn`` (real to one-sided complex) and ``fft_irfftn`` (a one-sided
spectrum, complex or real, to a real signal); ``fft``, ``fft2``, ``hfft``, ``ihfft`` ... are these
with other arguments. ``_fft_rfftn_real`` is the real part of the unnormalised one-sided
``rfftn``, which irfftn's backward formula needs. Each has a meta, a cpu kernel (NumPy's
pocketfft) and a host round trip as decomposition, like the factorisations.

Each is differentiable, complex inputs and results included (autograd/fft_formulas.py).
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.host import host_decomposition
from plugtorch.dispatch.registry import register_op

NORMS = (None, "backward", "forward", "ortho")


def check_norm(norm):
    if norm not in NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}" (use "backward", "forward" or "ortho")')
    return norm or "backward"


def _real_dtype(op, x):
    """The real dtype a transform computes in: integers and bool become the default float, as
    PyTorch promotes them, complex ones their parts' dtype; float16/bfloat16 have no cpu FFT in
    PyTorch either."""
    d = x._dtype
    if d in (_dtypes.float16, _dtypes.bfloat16):
        raise RuntimeError(f"{op}: Unsupported dtype {M.LEGACY_NAMES[d.name]} (PyTorch's cpu FFTs take float32 "
                           "and float64); convert with .float()")
    return d.to_real() if d.category >= _dtypes._FLOAT else _dtypes.get_default_dtype()


def _complex_result(op, x, out):
    """Checks for a transform whose result is complex: the device must hold it."""
    M.check_joined_dtype(op, out, x._device)


def _check_tensor(op, x):
    if not isinstance(x, M.Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")


def fft_plan(op, x, s, dim, *, c2r=False):
    """(sizes, dims) of an n-dim transform as PyTorch resolves ``s`` and ``dim``: the dims default
    to the last len(s) dims (all dims without ``s``), and must be unique; sizes default to the
    input's, and a size of -1 in ``s`` means that default (for the last one of a ``c2r``
    transform, irfftn's, 2 * (m - 1)). ``x``: a tensor or its shape stand-in."""
    if s is not None:
        s = (s,) if isinstance(s, int) else tuple(s)
    if dim is not None:
        dim = (dim,) if isinstance(dim, int) else tuple(dim)
    if s is not None and dim is not None and len(s) != len(dim):
        raise RuntimeError(f"{op}: When given, dim and shape arguments must have the same length "
                           f"(got s={s} and dim={dim})")
    if dim is None:
        if s is not None and len(s) > x.ndim:
            raise RuntimeError(f"{op}: Got shape with {len(s)} values but input tensor only has {x.ndim} dimensions.")
        dim = tuple(range(x.ndim - len(s), x.ndim)) if s is not None else tuple(range(x.ndim))
    if x.ndim == 0 and dim:     # (wrap_dim would take -1 and 0 as a 0-d tensor's dim, as reductions do)
        raise IndexError(f"{op}: Dimension specified as {dim[0]} but tensor has no dimensions (got a 0-d tensor)")
    dims = tuple(M.wrap_dim(op, d, x.ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: FFT dims must be unique (got dim={dim})")
    if s is not None and -1 in s:
        last = len(s) - 1
        s = tuple((2 * (x.shape[d] - 1) if c2r and i == last else x.shape[d]) if n == -1 else n
                  for i, (n, d) in enumerate(zip(s, dims)))
    return s, dims


def _check_some_dims(op, dims):
    """The one-sided transforms halve the last of ``dims``, so there must be one."""
    if not dims:
        raise RuntimeError(f"{op}: must transform at least one axis (got no dims: a 0-d input, dim=() or s=())")


def _irfftn_meta(input, s=None, dim=None, norm=None):
    """The real n-dim inverse FFT of a real half spectrum: the last of ``dim`` is the halved one
    (output length ``s[-1]``, default 2 * (m - 1)); the input is cut or zero-padded to
    ``s[:-1]`` and ``s[-1] // 2 + 1`` along ``dim`` first."""
    op = "fft_irfftn"
    _check_tensor(op, input)
    s, dims = fft_plan(op, input, s, dim, c2r=True)
    _check_some_dims(op, dims)
    if s is None:
        s = tuple(input.shape[d] for d in dims[:-1]) + (2 * (input.shape[dims[-1]] - 1),)
    for n in s:
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"{op}(): the sizes in s must be ints, got {s}")
        if n < 1:
            raise RuntimeError(f"{op}: Invalid number of data points ({n}) specified")
    out = _real_dtype(op, input)
    return input._device, (input._data, tuple(s), dims, check_norm(norm), out), out


def _rfftn_real_meta(input, dim):
    """Re(rfftn(input)) over ``dim``, unnormalised: the last of ``dim`` shrinks to n // 2 + 1."""
    op = "_fft_rfftn_real"
    _check_tensor(op, input)
    _, dims = fft_plan(op, input, None, dim)
    for d in dims:
        if input.shape[d] < 1:
            raise RuntimeError(f"{op}: Invalid number of data points ({input.shape[d]}) specified")
    out = _real_dtype(op, input)
    return input._device, (input._data, dims, out), out


def _sizes(op, input, s, dims):
    s = tuple(input.shape[d] for d in dims) if s is None else tuple(s)
    for n in s:
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"{op}(): the sizes in s must be ints, got {s}")
        if n < 1:
            raise RuntimeError(f"{op}: Invalid number of data points ({n}) specified")
    return s


def _c2c_meta(op):
    def meta(input, s=None, dim=None, norm=None):
        """The n-dim discrete Fourier transform (or its inverse) over ``dim`` of sizes ``s``: the input,
        promoted to complex, is cut or zero-padded to ``s`` first."""
        _check_tensor(op, input)
        s, dims = fft_plan(op, input, s, dim)
        s = _sizes(op, input, s, dims)
        out = input._dtype if input._dtype.is_complex else _real_dtype(op, input).to_complex()
        _complex_result(op, input, out)
        return input._device, (input._data, s, dims, check_norm(norm), out), out
    meta.__name__ = op
    return meta


def _rfftn_meta(input, s=None, dim=None, norm=None):
    """The n-dim FFT of a real input, one-sided: the last of ``dim`` keeps s[-1] // 2 + 1 bins."""
    op = "fft_rfftn"
    _check_tensor(op, input)
    if input._dtype.is_complex:
        raise RuntimeError(f"{op}: expects a real input tensor, but got {input._dtype}; use fftn for complex input")
    s, dims = fft_plan(op, input, s, dim)
    _check_some_dims(op, dims)
    s = _sizes(op, input, s, dims)
    out = _real_dtype(op, input).to_complex()
    _complex_result(op, input, out)
    return input._device, (input._data, s, dims, check_norm(norm), out), out


for _name, _meta in (("fft_irfftn", _irfftn_meta), ("_fft_rfftn_real", _rfftn_real_meta)):
    register_op(_name, _meta, decomposition=host_decomposition(_name), tags=("linalg",))
for _name, _meta in (("fft_fftn", _c2c_meta("fft_fftn")), ("fft_ifftn", _c2c_meta("fft_ifftn")),
                     ("fft_rfftn", _rfftn_meta)):
    register_op(_name, _meta, decomposition=host_decomposition(_name), tags=("linalg",))
