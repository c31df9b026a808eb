"""Complex autograd: which ops may record a complex computation, and the formulas only complex
numbers need.

plugtorch follows PyTorch's convention: a real loss L gives a complex z = x + iy the gradient
dL/dx + i dL/dy (the conjugate Wirtinger derivative, times 2). A formula receives the gradient
of each output in that form and returns its inputs'; for a holomorphic f that is
``grad * conj(f'(z))``, hence the conj()s in formulas.py (free for real tensors). A real input
of a complex computation gets the real part of its gradient (engine.cast_grad), as in PyTorch.

``COMPLEX_OPS`` is the allowlist: the ops whose formulas are checked for complex inputs and
outputs (tests/autograd/test_complex_autograd.py gradchecks each in complex128). Every other op
refuses to record a node with a complex input that requires grad or a complex result, naming the
op, rather than risk a silently wrong gradient. Composite ops without a formula of their own
(mean, reshape, transpose, stack, stft ...) are differentiated through their steps, so they work
exactly when every step is on the list. docs/complex.md lists what that covers.

>>> import plugtorch as pt
>>> z = pt.tensor([3 + 4j], requires_grad=True)
>>> z.abs().sum().backward()
>>> z.grad.tolist()
[(0.6+0.8j)]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.autograd.formulas import conj_if_complex as _c
from plugtorch.autograd.formulas import derivative

COMPLEX_OPS = frozenset(
    # arithmetic and the holomorphic functions: grad * conj(f'(z)) (formulas.py)
    "neg add sub mul div pow exp abs _matmul where exp2 expm1 log log2 log10 log1p sqrt rsqrt reciprocal "
    "sin cos tan sinh cosh tanh sigmoid asin acos atan "
    # reductions and movement: linear, the same formula as for real tensors
    "sum cumsum prod cumprod view permute expand clone flip slice select index index_put cat unfold _to_dtype _to_device "
    # the complex views and functions
    "conj_physical view_as_real view_as_complex angle "
    # plugtorch.fft's transforms (fft_formulas.py)
    "fft_fftn fft_ifftn fft_rfftn fft_irfftn".split())


derivative("conj_physical", lambda g, x: (_c(g),), save=(), shapes=False)
# view_as_real's gradient (S + (2,), real) holds dL/dx and dL/dy side by side: the complex
# gradient is those pairs read as one complex number; view_as_complex is the reverse
derivative("view_as_real", lambda g, x: (pt.view_as_complex(g.contiguous()),), save=(), shapes=False)
derivative("view_as_complex", lambda g, x: (pt.view_as_real(g),), save=(), shapes=False)


def _angle_grad(g, x):
    # d angle / dx = -y / |z|^2, d angle / dy = x / |z|^2, so the gradient is g * i z / |z|^2;
    # 0 at z = 0, as PyTorch (and 0 for a real input, whose angle is piecewise constant)
    if not x._dtype.is_complex:
        return (g * 0,)
    sq = x.abs().square()
    zero = sq == 0
    return (pt.where(zero, 0.0, g * 1j * x / pt.where(zero, 1.0, sq)),)


derivative("angle", _angle_grad)
