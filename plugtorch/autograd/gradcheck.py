"""gradcheck / gradgradcheck: analytical gradients against central finite differences.

Defaults follow PyTorch (eps=1e-6, atol=1e-5, rtol=1e-3); inputs should be float64.
On failure the report names, for each output and input, the worst mismatching Jacobian
entries with both values.

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
    return tuple(o for o in out if isinstance(o, Tensor) and o.dtype.is_floating_point)


def _host(t):
    return np.asarray(t.detach().cpu().numpy(force=True), dtype=np.float64).reshape(-1)


def _numerical(fn, inputs, i, eps):
    """Jacobian of the flattened outputs with respect to input ``i`` by central differences.

    The perturbed input keeps ``requires_grad`` (and no_grad is not used) so that functions
    which differentiate internally (gradgradcheck's first derivative) still work."""
    import plugtorch as pt
    x = inputs[i]
    base = _host(x)
    cols = []
    for k in range(base.size):
        vals = []
        for sgn in (1, -1):
            pert = base.copy()
            pert[k] += sgn * eps
            xi = pt.tensor(pert.reshape(tuple(x.shape)), dtype=x.dtype, device=x.device,
                           requires_grad=x.requires_grad)
            args = list(inputs)
            args[i] = xi
            outs = _outputs(fn, args)
            vals.append(np.concatenate([_host(o) for o in outs]) if outs else np.zeros(0))
        cols.append((vals[0] - vals[1]) / (2 * eps))
    if cols:
        return np.stack(cols, axis=1)
    n_out = sum(o.numel() for o in _outputs(fn, inputs))
    return np.zeros((n_out, 0))


def _analytical(outs, inputs, diff_idx):
    """Row ``r`` of each input's Jacobian is the gradient of flattened output element ``r``."""
    import plugtorch as pt
    n_out = sum(o.numel() for o in outs)
    jac = {i: np.zeros((n_out, inputs[i].numel())) for i in diff_idx}
    row = 0
    for o in outs:
        for k in range(o.numel()):
            if o.requires_grad:
                g = np.zeros(o.numel())
                g[k] = 1.0
                go = pt.tensor(g.reshape(tuple(o.shape)), dtype=o.dtype, device=o.device)
                grads = pt.autograd.grad([o], [inputs[i] for i in diff_idx], [go],
                                         retain_graph=True, allow_unused=True)
                for i, gi in zip(diff_idx, grads):
                    if gi is not None:
                        jac[i][row] = _host(gi)
            row += 1
    return jac


def _report(i, x, outs, a, num, bad):
    """Name the worst mismatching entries per output: (output index, input index) and values."""
    lines = []
    start = 0
    for j, o in enumerate(outs):
        n = o.numel()
        blk = bad[start:start + n]
        if blk.any():
            rows, cols = np.nonzero(blk)
            err = np.abs(a[start:start + n] - num[start:start + n])[rows, cols]
            lines.append(f"Jacobian mismatch for output {j} with respect to input {i} (output shape "
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
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **unused) -> bool:
    """Compare ``func``'s analytical Jacobian with central differences for every input that
    requires grad. Returns True, or raises GradcheckError listing the worst entries
    (``raise_exception=False``: returns False instead).

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
        if inputs[i].dtype.name != "float64":
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; the check may fail "
                          "from rounding alone", UserWarning, stacklevel=2)
    outs = _outputs(func, inputs)
    ana = _analytical(outs, inputs, diff_idx)
    report = []
    for i in diff_idx:
        num = _numerical(func, inputs, i, eps)
        a = ana[i]
        if num.shape != a.shape:
            report.append(f"Jacobian shape mismatch for input {i}: numerical {num.shape}, "
                          f"analytical {a.shape} (does the function return the same outputs each call?)")
            continue
        bad = ~(np.abs(a - num) <= atol + rtol * np.abs(num))
        bad &= ~(np.isnan(a) & np.isnan(num))
        if bad.any():
            report.append(_report(i, inputs[i], outs, a, num, bad))
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
        grad_outputs = [pt.tensor(gen.standard_normal(tuple(o.shape)), dtype=o.dtype, device=o.device,
                                  requires_grad=True) for o in outs]
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
