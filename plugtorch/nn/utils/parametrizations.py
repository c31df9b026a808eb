"""``nn.utils.parametrizations``: ``orthogonal``, ``weight_norm`` and ``spectral_norm`` written as
parametrizations (``nn.utils.parametrize``), with PyTorch's names, state dict keys and defaults.

>>> import plugtorch as pt
>>> m = orthogonal(pt.nn.Linear(3, 3))
>>> bool(pt.allclose(m.weight.T @ m.weight, pt.eye(3), atol=1e-5))
True
"""
from __future__ import annotations

from enum import Enum, auto

import plugtorch
import plugtorch.nn.functional as F
from plugtorch._tensor import Tensor
from plugtorch.nn.modules.module import Module
from plugtorch.nn.utils import parametrize
from plugtorch.nn.utils.spectral_norm import weight_matrix
from plugtorch.nn.utils.weight_norm import _weight_norm, norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _is_orthogonal(Q) -> bool:
    n, k = Q.size(-2), Q.size(-1)
    eye = plugtorch.eye(k, dtype=Q.dtype, device=Q.device)
    return bool(plugtorch.allclose(Q.mH @ Q, eye, atol=10.0 * n * plugtorch.finfo(Q.dtype).eps))


def _make_orthogonal(A):
    """The Q of A = QR with R's diagonal made non-negative (PyTorch's geqrf + householder_product)."""
    Q, R = plugtorch.linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


def _householder_product(A, tau):
    """The first k columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^H, v_i the i-th column of A below
    the diagonal with a 1 on it (``torch.linalg.householder_product``), written with plugtorch ops so
    gradients flow to A and tau."""
    n, k = A.size(-2), A.size(-1)
    V = A.tril(-1) + plugtorch.eye(n, k, dtype=A.dtype, device=A.device)
    Q = plugtorch.eye(n, k, dtype=A.dtype, device=A.device).expand(*A.shape[:-2], n, k)
    for i in range(k - 1, -1, -1):
        v = V[..., :, i:i + 1]
        Q = Q - tau[..., i, None, None] * (v @ (v.mH @ Q))
    return Q


def _geqrf(A):
    """LAPACK's geqrf: R on and above the diagonal, the Householder vectors below it, and tau."""
    A = A.clone()
    n, k = A.size(-2), A.size(-1)
    taus = []
    for j in range(min(n, k)):
        alpha = A[..., j, j]
        xnorm = A[..., j + 1:, j].norm(dim=-1)
        norm = (alpha * alpha + xnorm * xnorm).sqrt()
        beta = plugtorch.where(alpha >= 0, -norm, norm)
        zero = xnorm == 0
        safe_beta = plugtorch.where(zero, plugtorch.ones_like(beta), beta)
        tau = plugtorch.where(zero, plugtorch.zeros_like(beta), (beta - alpha) / safe_beta)
        scale = plugtorch.where(zero, plugtorch.zeros_like(beta), 1 / (alpha - safe_beta))
        v = plugtorch.cat([plugtorch.ones_like(alpha)[..., None], A[..., j + 1:, j] * scale[..., None]], dim=-1)
        rest = A[..., j:, j + 1:]
        A[..., j:, j + 1:] = rest - tau[..., None, None] * (v[..., :, None] @ (v[..., None, :] @ rest))
        A[..., j + 1:, j] = v[..., 1:]
        A[..., j, j] = plugtorch.where(zero, alpha, beta)
        taus.append(tau)
    return A, plugtorch.stack(taus, dim=-1)


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map: _OrthMaps, *, use_trivialization=True) -> None:
        super().__init__()
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()
            if n != k:
                X = plugtorch.cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = X - X.mH
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = plugtorch.matrix_exp(A)
            else:
                eye = plugtorch.eye(n, dtype=A.dtype, device=A.device)
                Q = plugtorch.linalg.solve(eye - 0.5 * A, eye + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = _householder_product(A, tau)
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if "base" in self._buffers and self.base is not None:
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q):
        with plugtorch.no_grad():
            if Q.shape != self.shape:
                raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                                 f"Got a tensor of shape {Q.shape}.")
            Q_init = Q
            n, k = Q.size(-2), Q.size(-1)
            transpose = n < k
            if transpose:
                Q = Q.mT
                n, k = k, n
            if "base" not in self._buffers:
                if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                    raise NotImplementedError("It is not possible to assign to the matrix exponential or the "
                                              "Cayley parametrizations when use_trivialization=False.")
                A, tau = _geqrf(Q)
                diag = A.diagonal(dim1=-2, dim2=-1)
                flip = 1.0 - 2.0 * (tau == 0.0).to(A.dtype)
                eye = plugtorch.eye(n, k, dtype=A.dtype, device=A.device)
                A = A * (1 - eye) + eye * (diag.sign() * flip).unsqueeze(-2)
                return A.mT if transpose else A
            if n == k:
                Q = _make_orthogonal(Q) if not _is_orthogonal(Q) else Q.clone()
            else:
                N = plugtorch.randn(*(tuple(Q.shape[:-2]) + (n, n - k)), dtype=Q.dtype, device=Q.device)
                Q = _make_orthogonal(plugtorch.cat([Q, N], dim=-1))
            self.base = Q
            # forward(-I) is the identity (every map sends the lower part 0 to I; householder's signs are -1)
            eye = plugtorch.eye(Q_init.size(-2), Q_init.size(-1), dtype=Q_init.dtype, device=Q_init.device)
            return (-eye).expand(Q_init.shape).clone()


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Make ``module.<name>`` (a matrix or batch of matrices) orthogonal (unitary when complex)
    through ``orthogonal_map``: ``"matrix_exp"`` (default for square or complex), ``"cayley"``
    or ``"householder"`` (default otherwise). ``use_trivialization`` keeps a ``base`` buffer
    so assigning an orthogonal matrix is exact and optimisation moves around it."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.size(-2) == weight.size(-1) or weight.is_complex() \
            else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int = 0):
    """``module.<name> = g * v / ||v||`` (norm over every dimension but ``dim``; ``None``: whole
    tensor), with ``g`` and ``v`` stored as ``parametrizations.<name>.original0`` and ``original1``.

    >>> import plugtorch as pt
    >>> m = weight_norm(pt.nn.Linear(3, 2))
    >>> tuple(m.parametrizations.weight.original0.shape), tuple(m.parametrizations.weight.original1.shape)
    ((2, 1), (2, 3))
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                 error_msgs):
        # state dicts saved with the legacy nn.utils.weight_norm (<name>_g, <name>_v) load too
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] "
                             f"but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.size()
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight):
        return weight_matrix(weight, self.dim)

    def _power_method(self, weight_mat, n_power_iterations: int) -> None:
        # u and v are updated in place: the buffers keep their identity (and their state dict entries)
        with plugtorch.no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(plugtorch.mv(weight_mat, self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(plugtorch.mv(weight_mat.mH, self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = plugtorch.vdot(u, plugtorch.mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def _transposed_conv_dim(module) -> int:
    from plugtorch.nn import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Divide ``module.<name>`` by its largest singular value, estimated by power iteration
    (``n_power_iterations`` steps per forward call in training mode; the vectors are the
    buffers ``parametrizations.<name>.0._u`` and ``_v``). ``dim`` (default 0, 1 for transposed
    convolutions) is the output dimension the weight is flattened around."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = _transposed_conv_dim(module)
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
