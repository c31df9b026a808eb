"""gradcheck / gradgradcheck: analytical gradients against central finite differences.

Defaults follow PyTorch (eps=1e-6, atol=1e-5, rtol=1e-3); inputs should be float64 or complex128.
On failure the report names, for each output and input, the worst mismatching Jacobian
entries with both values.

Complex tensors are checked as torch.autograd.gradcheck checks them: a complex input of n elements
is 2n real variables (each element's real and imaginary part, perturbed in turn) and a complex
output of m elements 2m real outputs. The analytical row of the real output Re(o_k) is the
gradient for grad_output 1 at k, that of Im(o_k) the gradient for grad_output 1j at k (the
conjugate Wirtinger convention: a real loss L gives z = x + iy the gradient dL/dx + i dL/dy),
each gradient read as its (real, imag) pairs.

>>> x = plugtorch.randn(3, dtype=plugtorch.float64, requires_grad=True)
>>> gradcheck(lambda t: (t * t).sum(), (x,))
True
"""
from __future__ import annotations

import warnings

import numpy as np


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical Jacobians differ."""


def _flat_inputs(inputs):
    from plugtorch._tensor import Tensor
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    return tuple(inputs)


def _outputs(fn, inputs):
    """The differentiable (floating-point tensor) outputs of ``fn(*inputs)``."""
    from plugtorch._tensor import Tensor
    out = fn(*inputs)
    if isinstance(out, Tensor):
        out = (out,)
    return tuple(o for o in out if isinstance(o, Tensor) and (o.dtype.is_floating_point or o.dtype.is_complex))


def _host(t):
    """The tensor's values as float64, a complex one as its (real, imag) pairs."""
    a = t.detach().cpu().numpy(force=True)
    if np.iscomplexobj(a):
        return np.stack([a.real, a.imag], -1).astype(np.float64).reshape(-1)
    return np.asarray(a, dtype=np.float64).reshape(-1)


def _width(t):
    """How many real numbers the tensor holds (two per complex element)."""
    return t.numel() * (2 if t.dtype.is_complex else 1)


def _numerical(fn, inputs, i, eps):
    """Jacobian of the flattened outputs with respect to input ``i`` by central differences.

    The perturbed input keeps ``requires_grad`` (and no_grad is not used) so that functions
    which differentiate internally (gradgradcheck's first derivative) still work."""
    import plugtorch as pt
    x = inputs[i]
    base = x.detach().cpu().numpy(force=True).reshape(-1)
    base = base.astype(np.complex128 if np.iscomplexobj(base) else np.float64)
    steps = (1.0, 1j) if np.iscomplexobj(base) else (1.0,)   # real part, then imaginary part
    cols = []
    for k, step in ((k, step) for k in range(base.size) for step in steps):
        vals = []
        for sgn in (1, -1):
            pert = base.copy()
            pert[k] += sgn * eps * step
            xi = pt.tensor(pert.reshape(tuple(x.shape)), dtype=x.dtype, device=x.device,
                           requires_grad=x.requires_grad)
            args = list(inputs)
            args[i] = xi
            outs = _outputs(fn, args)
            vals.append(np.concatenate([_host(o) for o in outs]) if outs else np.zeros(0))
        cols.append((vals[0] - vals[1]) / (2 * eps))
    if cols:
        return np.stack(cols, axis=1)
    n_out = sum(_width(o) for o in _outputs(fn, inputs))
    return np.zeros((n_out, 0))


def _analytical(outs, inputs, diff_idx):
    """Row ``r`` of each input's Jacobian is the gradient of flattened (real) output ``r``: for a
    complex output element, its real part (grad_output 1) and then its imaginary part (1j)."""
    import plugtorch as pt
    n_out = sum(_width(o) for o in outs)
    jac = {i: np.zeros((n_out, _width(inputs[i]))) for i in diff_idx}
    row = 0
    for o in outs:
        units = (1.0, 1j) if o.dtype.is_complex else (1.0,)
        for k, unit in ((k, unit) for k in range(o.numel()) for unit in units):
            if o.requires_grad:
                g = np.zeros(o.numel(), dtype=complex if o.dtype.is_complex else float)
                g[k] = unit
                go = pt.tensor(g.reshape(tuple(o.shape)), dtype=o.dtype, device=o.device)
                grads = pt.autograd.grad([o], [inputs[i] for i in diff_idx], [go],
                                         retain_graph=True, allow_unused=True)
                for i, gi in zip(diff_idx, grads):
                    if gi is not None:
                        jac[i][row] = _host(gi)
            row += 1
    return jac


def _forward(fn, inputs, diff_idx, n_out):
    """Forward-mode Jacobians: column ``c`` of input ``i``'s is the output tangents (flattened as
    the numerical Jacobian's rows are) for a one-hot tangent on element ``c`` of input ``i``
    (on a complex input, 1 and then 1j per element), the other inputs plain."""
    import plugtorch as pt
    from plugtorch.autograd import forward_ad as fwAD
    jac = {}
    for i in diff_idx:
        x = inputs[i]
        units = (1.0, 1j) if x.dtype.is_complex else (1.0,)
        cols = []
        for k, unit in ((k, unit) for k in range(x.numel()) for unit in units):
            t = np.zeros(x.numel(), dtype=complex if x.dtype.is_complex else float)
            t[k] = unit
            tangent = pt.tensor(t.reshape(tuple(x.shape)), dtype=x.dtype, device=x.device)
            with fwAD.dual_level():
                args = list(inputs)
                args[i] = fwAD.make_dual(x.detach(), tangent)
                outs = _outputs(fn, args)
                col = []
                for o in outs:
                    tan = fwAD.unpack_dual(o).tangent
                    col.append(np.zeros(_width(o)) if tan is None else _host(tan))
            cols.append(np.concatenate(col) if col else np.zeros(0))
        jac[i] = np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))
    return jac


def _report(i, x, outs, a, num, bad, kind="Jacobian"):
    """Name the worst mismatching entries per output: (output index, input index) and values."""
    lines = []
    start = 0
    for j, o in enumerate(outs):
        n = _width(o)
        blk = bad[start:start + n]
        if blk.any():
            rows, cols = np.nonzero(blk)
            err = np.abs(a[start:start + n] - num[start:start + n])[rows, cols]
            lines.append(f"{kind} mismatch for output {j} with respect to input {i} (output shape "
                         f"{tuple(o.shape)}, input shape {tuple(x.shape)}): {int(blk.sum())} of "
                         f"{blk.size} entries differ")
            lines.append("  (output elem, input elem)    numerical       analytical      |diff|")
            for k in np.argsort(-err, kind="stable")[:8]:
                r, c = rows[k], cols[k]
                lines.append(f"  ({r}, {c}){'':<{max(1, 22 - len(f'({r}, {c})'))}}"
                             f"{num[start + r, c]: .6e}  {a[start + r, c]: .6e}  {err[k]:.3e}")
        start += n
    return "\n".join(lines)


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, check_forward_ad=False,
              check_backward_ad=True, **unused) -> bool:
    """Compare ``func``'s analytical Jacobian with central differences for every input that
    requires grad. Returns True, or raises GradcheckError listing the worst entries
    (``raise_exception=False``: returns False instead).

    ``check_backward_ad`` (default True) checks the Jacobian that backward (vector-Jacobian
    products) gives; ``check_forward_ad`` (default False) checks the one forward-mode AD
    (``autograd.forward_ad``, Jacobian-vector products) gives, as PyTorch's flags do.

    >>> x = plugtorch.randn(3, dtype=plugtorch.float64, requires_grad=True)
    >>> gradcheck(lambda t: (t * t).sum(), (x,))
    True
    """
    from plugtorch._tensor import Tensor
    inputs = _flat_inputs(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of the inputs have requires_grad=True")
    for i in diff_idx:
        if inputs[i].dtype.name not in ("float64", "complex128"):
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64 or complex128; the check may fail "
                          "from rounding alone", UserWarning, stacklevel=2)
    outs = _outputs(func, inputs)
    checks = []     # (kind, {input index: Jacobian})
    if check_backward_ad:
        checks.append(("Jacobian", _analytical(outs, inputs, diff_idx)))
    if check_forward_ad:
        checks.append(("Forward-mode Jacobian",
                       _forward(func, inputs, diff_idx, sum(_width(o) for o in outs))))
    report = []
    for i in diff_idx if checks else ():
        num = _numerical(func, inputs, i, eps)
        for kind, jac in checks:
            a = jac[i]
            if num.shape != a.shape:
                report.append(f"{kind} shape mismatch for input {i}: numerical {num.shape}, "
                              f"analytical {a.shape} (does the function return the same outputs each call?)")
                continue
            bad = ~(np.abs(a - num) <= atol + rtol * np.abs(num))
            bad &= ~(np.isnan(a) & np.isnan(num))
            if bad.any():
                report.append(_report(i, inputs[i], outs, a, num, bad, kind))
    if report:
        if raise_exception:
            raise GradcheckError("\n".join(report) + f"\n(tolerances: atol={atol}, rtol={rtol}, eps={eps})")
        return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, **unused) -> bool:
    """gradcheck of the gradient: checks second derivatives (``create_graph=True``).

    ``grad_outputs`` default to fixed random tensors that require grad, so the check covers
    the derivative with respect to them too.
    """
    import plugtorch as pt
    inputs = _flat_inputs(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, pt.Tensor) and x.requires_grad]
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        gen = np.random.default_rng(0)
        grad_outputs = [pt.tensor(gen.standard_normal(tuple(o.shape)) + 1j * gen.standard_normal(tuple(o.shape))
                                  if o.dtype.is_complex else gen.standard_normal(tuple(o.shape)),
                                  dtype=o.dtype, device=o.device, requires_grad=True) for o in outs]
    else:
        grad_outputs = list(_flat_inputs(grad_outputs))
    n_in = len(inputs)

    def first_grads(*args):
        xs, gos = args[:n_in], args[n_in:]
        os_ = _outputs(func, xs)
        grads = pt.autograd.grad(list(os_), [xs[i] for i in diff_idx], list(gos),
                                 create_graph=True, allow_unused=True)
        return tuple(g if g is not None else pt.zeros(tuple(xs[i].shape), dtype=xs[i].dtype, device=xs[i].device)
                     for g, i in zip(grads, diff_idx))

    return gradcheck(first_grads, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
