"""gradcheck / gradgradcheck: analytical gradients against central finite differences.

Defaults follow PyTorch (eps=1e-6, atol=1e-5, rtol=1e-3); inputs should be float64.
On failure the report lists the worst mismatching entries of each input's Jacobian.
"""
from __future__ import annotations

import numpy as np


class GradcheckError(RuntimeError):
    pass


def _flat_inputs(inputs):
    from plugtorch._tensor import Tensor
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    return tuple(inputs)


def _outputs(fn, inputs):
    from plugtorch._tensor import Tensor
    out = fn(*inputs)
    if isinstance(out, Tensor):
        out = (out,)
    return tuple(o for o in out if isinstance(o, Tensor) and o.dtype.is_floating_point)


def _numerical(fn, inputs, i, eps):
    import plugtorch as pt
    x = inputs[i]
    base = x.detach().cpu().numpy(force=True).astype(np.float64).copy()
    outs0 = _outputs(fn, inputs)
    cols = []
    flat = base.reshape(-1)
    for k in range(flat.size):
        vals = []
        for sgn in (1, -1):
            pert = flat.copy()
            pert[k] += sgn * eps
            xi = pt.tensor(pert.reshape(base.shape), dtype=x.dtype, device=x.device)
            args = list(inputs)
            args[i] = xi
            with pt.no_grad():
                vals.append([o.detach().cpu().numpy(force=True).astype(np.float64).reshape(-1) for o in _outputs(fn, args)])
        cols.append(np.concatenate([(a - b) / (2 * eps) for a, b in zip(*vals)]) if vals[0] else np.zeros(0))
    n_out = sum(o.numel() for o in outs0)
    return np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))


def _analytical(fn, inputs, diff_idx):
    import plugtorch as pt
    outs = _outputs(fn, inputs)
    n_out = sum(o.numel() for o in outs)
    jac = {i: np.zeros((n_out, inputs[i].numel())) for i in diff_idx}
    row = 0
    for o in outs:
        for k in range(o.numel()):
            if not o.requires_grad:
                row += 1
                continue
            g = pt.zeros(tuple(o.shape), dtype=o.dtype, device=o.device).reshape(-1)
            g[k] = 1.0
            grads = pt.autograd.grad([o], [inputs[i] for i in diff_idx], [g.reshape(tuple(o.shape))],
                                     retain_graph=True, allow_unused=True)
            for i, gi in zip(diff_idx, grads):
                if gi is not None:
                    jac[i][row] = gi.detach().cpu().numpy(force=True).astype(np.float64).reshape(-1)
            row += 1
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **unused) -> bool:
    """Compare ``func``'s analytical Jacobian with central differences for every input that
    requires grad. Returns True, or raises GradcheckError listing the worst entries.

    >>> x = plugtorch.randn(3, dtype=plugtorch.float64, requires_grad=True)
    >>> gradcheck(lambda t: (t * t).sum(), (x,))
    True
    """
    from plugtorch._tensor import Tensor
    inputs = _flat_inputs(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for i in diff_idx:
        if inputs[i].dtype.name != "float64":
            import warnings
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; the check may fail "
                          "from rounding alone", UserWarning, stacklevel=2)
    ana = _analytical(func, inputs, diff_idx)
    for i in diff_idx:
        num = _numerical(func, inputs, i, eps)
        a = ana[i]
        if num.shape != a.shape:
            return _fail(raise_exception, f"Jacobian shape mismatch for input {i}: numerical {num.shape}, analytical {a.shape}")
        bad = ~(np.abs(a - num) <= atol + rtol * np.abs(num))
        bad &= ~(np.isnan(a) & np.isnan(num))
        if bad.any():
            rows, cols = np.nonzero(bad)
            err = np.abs(a - num)[rows, cols]
            order = np.argsort(-err)[:5]
            lines = [f"Jacobian mismatch for output and input {i} (shape {tuple(inputs[i].shape)}): "
                     f"{bad.sum()} of {bad.size} entries differ",
                     "  (output elem, input elem)   numerical      analytical     |diff|"]
            for k in order:
                r, c = rows[k], cols[k]
                lines.append(f"  ({r:>5}, {c:>5})            {num[r, c]: .6e}  {a[r, c]: .6e}  {err[k]:.3e}")
            return _fail(raise_exception, "\n".join(lines))
    return True


def _fail(raise_exception, msg):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **unused) -> bool:
    """gradcheck of the gradient: checks second derivatives (``create_graph=True``)."""
    import plugtorch as pt
    inputs = _flat_inputs(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, pt.Tensor) and x.requires_grad]
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        gen = np.random.default_rng(0)
        grad_outputs = [pt.tensor(gen.standard_normal(tuple(o.shape)), dtype=o.dtype, device=o.device,
                                  requires_grad=True) for o in outs]
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
