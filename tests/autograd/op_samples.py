"""Sample inputs for gradchecking every differentiable op of the registry, keyed by op name.

Each entry is a small function of a NumPy Generator returning ``Sample(args, kwargs)``: float64
tensors that require grad are the ones differentiated; everything else is passed through.
Values are kept away from kinks (abs at 0, max ties, remainder jumps) so finite differences
are meaningful. ``call`` overrides how the op is called (in-place ops need a fresh target).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

import plugtorch as pt


class Sample(NamedTuple):
    args: tuple
    kwargs: dict = {}
    call: Callable | None = None


def T(a, grad=True):
    """A float64 tensor that requires grad (the differentiated inputs)."""
    return pt.tensor(np.asarray(a, dtype=np.float64), dtype=pt.float64, requires_grad=grad)


def randn(rng, *shape):
    return T(rng.standard_normal(shape))


def distinct(rng, *shape):
    """Values spread well apart (no ties for max/sort, no kinks within eps)."""
    n = int(np.prod(shape)) if shape else 1
    v = (rng.permutation(n) - n / 2 + 0.3) * 0.37
    return T(v.reshape(shape))


def pos(rng, *shape, lo=0.5, hi=2.0):
    return T(rng.uniform(lo, hi, shape))


def unit(rng, *shape):
    return T(rng.uniform(-0.8, 0.8, shape))


def idx(a):
    return pt.tensor(np.asarray(a, dtype=np.int64))


SAMPLES: dict[str, Callable] = {}


def sample(*names):
    def deco(fn):
        for n in names:
            SAMPLES[n] = fn
        return fn
    return deco


# ---- unary --------------------------------------------------------------------------------
for _n in ("neg", "exp", "exp2", "expm1", "sin", "cos", "tan", "atan", "sinh", "cosh", "tanh",
           "sigmoid", "erf", "square", "frac", "nan_to_num", "clone", "contiguous"):
    SAMPLES[_n] = lambda rng: Sample((unit(rng, 3, 4),))
for _n in ("abs", "sign", "floor", "ceil", "trunc", "round", "relu"):
    SAMPLES[_n] = lambda rng: Sample((distinct(rng, 3, 4),))
for _n in ("log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal"):
    SAMPLES[_n] = lambda rng: Sample((pos(rng, 3, 4),))
for _n in ("asin", "acos"):
    SAMPLES[_n] = lambda rng: Sample((unit(rng, 3, 4),))

# ---- binary (the second operand broadcasts) -----------------------------------------------
for _n in ("add", "sub", "mul", "atan2", "rsub", "logaddexp"):
    SAMPLES[_n] = lambda rng: Sample((randn(rng, 3, 4), pos(rng, 4)))
for _n in ("div", "true_divide"):
    SAMPLES[_n] = lambda rng: Sample((randn(rng, 3, 4), pos(rng, 4)))
SAMPLES["pow"] = lambda rng: Sample((pos(rng, 3, 4), unit(rng, 4)))
for _n in ("remainder", "fmod", "floor_divide"):   # (away from the quotient's jumps: floor_divide's is 0)
    SAMPLES[_n] = lambda rng: Sample((T(rng.uniform(0.1, 0.9, (3, 4)) + np.arange(4)), T([1.3, 1.7, 2.9, 0.7])))
for _n in ("maximum", "minimum"):
    SAMPLES[_n] = lambda rng: Sample((distinct(rng, 3, 4), T([0.05, -0.2, 0.44, 10.0])))
SAMPLES["threshold_backward"] = lambda rng: Sample((randn(rng, 3, 4), distinct(rng, 3, 4), 0.1))
SAMPLES["where"] = lambda rng: Sample((pt.tensor([[True, False, True, False]] * 3), randn(rng, 3, 4), randn(rng, 4)))
SAMPLES["lerp"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3, 4), pos(rng, 4, lo=0.1, hi=0.9)))
SAMPLES["clamp"] = lambda rng: Sample((distinct(rng, 3, 4), -0.5, 0.6))
SAMPLES["clamp_min"] = lambda rng: Sample((distinct(rng, 3, 4), -0.5))
SAMPLES["clamp_max"] = lambda rng: Sample((distinct(rng, 3, 4), 0.6))

# ---- reductions and scans -----------------------------------------------------------------
SAMPLES["sum"] = lambda rng: Sample((randn(rng, 3, 4), 1), {"keepdim": True})
SAMPLES["mean"] = lambda rng: Sample((randn(rng, 3, 4), (0, 1)))
SAMPLES["prod"] = lambda rng: Sample((pos(rng, 3, 4), 1))
for _n in ("amax", "amin", "logsumexp", "softmax", "log_softmax", "var", "std", "var_mean",
           "std_mean", "cumsum", "cumprod"):
    SAMPLES[_n] = lambda rng: Sample((distinct(rng, 3, 4), 1))
SAMPLES["max"] = lambda rng: Sample((distinct(rng, 3, 4), 1))
SAMPLES["min"] = lambda rng: Sample((distinct(rng, 3, 4), 0))
SAMPLES["aminmax"] = lambda rng: Sample((distinct(rng, 3, 4),), {"dim": 1})
SAMPLES["sort"] = lambda rng: Sample((distinct(rng, 3, 4), 1))
SAMPLES["topk"] = lambda rng: Sample((distinct(rng, 3, 4), 2, 1))
SAMPLES["kthvalue"] = lambda rng: Sample((distinct(rng, 3, 4), 2, 1))
SAMPLES["mode"] = lambda rng: Sample((distinct(rng, 3, 4), 1))   # all distinct: the smallest value, no ties to break
SAMPLES["vector_norm"] = lambda rng: Sample((pos(rng, 3, 4),))
SAMPLES["norm"] = lambda rng: Sample((pos(rng, 3, 4), 3, 1))

# ---- linear algebra -----------------------------------------------------------------------
SAMPLES["_matmul"] = lambda rng: Sample((randn(rng, 2, 3, 4), randn(rng, 4, 2)))
SAMPLES["matmul"] = lambda rng: Sample((randn(rng, 3), randn(rng, 2, 3, 4)))
SAMPLES["mm"] = lambda rng: Sample((randn(rng, 2, 3), randn(rng, 3, 4)))
SAMPLES["bmm"] = lambda rng: Sample((randn(rng, 2, 2, 3), randn(rng, 2, 3, 2)))
SAMPLES["dot"] = lambda rng: Sample((randn(rng, 4), randn(rng, 4)))
SAMPLES["outer"] = lambda rng: Sample((randn(rng, 3), randn(rng, 4)))
SAMPLES["mv"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 4)))
SAMPLES["addmm"] = lambda rng: Sample((randn(rng, 4), randn(rng, 2, 3), randn(rng, 3, 4)), {"beta": 0.5, "alpha": 2})
SAMPLES["addmv"] = lambda rng: Sample((randn(rng, 3), randn(rng, 3, 4), randn(rng, 4)), {"beta": 2})
SAMPLES["baddbmm"] = lambda rng: Sample((randn(rng, 2, 2, 2), randn(rng, 2, 2, 3), randn(rng, 2, 3, 2)), {"alpha": 3})
SAMPLES["addbmm"] = lambda rng: Sample((randn(rng, 2, 2), randn(rng, 2, 2, 3), randn(rng, 2, 3, 2)), {"beta": 0.5})
SAMPLES["addr"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3), randn(rng, 4)), {"beta": 2, "alpha": 0.5})
SAMPLES["einsum"] = lambda rng: Sample(("ij,jk->ik", randn(rng, 2, 3), randn(rng, 3, 4)))

# ---- movement and views -------------------------------------------------------------------
SAMPLES["view"] = lambda rng: Sample((randn(rng, 3, 4), 2, 6))
SAMPLES["reshape"] = lambda rng: Sample((randn(rng, 3, 4), 4, 3))
SAMPLES["flatten"] = lambda rng: Sample((randn(rng, 2, 3, 2),))
SAMPLES["unflatten"] = lambda rng: Sample((randn(rng, 3, 4), 1, (2, 2)))
SAMPLES["squeeze"] = lambda rng: Sample((randn(rng, 3, 1, 4),))
SAMPLES["unsqueeze"] = lambda rng: Sample((randn(rng, 3, 4), 1))
SAMPLES["permute"] = lambda rng: Sample((randn(rng, 2, 3, 4), 2, 0, 1))
SAMPLES["transpose"] = lambda rng: Sample((randn(rng, 2, 3, 4), 0, 2))
SAMPLES["movedim"] = lambda rng: Sample((randn(rng, 2, 3, 4), 0, 2))
SAMPLES["t"] = lambda rng: Sample((randn(rng, 3, 4),))
SAMPLES["expand"] = lambda rng: Sample((randn(rng, 3, 1), 2, 3, 4))
SAMPLES["expand_as"] = lambda rng: Sample((randn(rng, 3, 1), pt.zeros(3, 4, dtype=pt.float64)))
SAMPLES["broadcast_to"] = lambda rng: Sample((randn(rng, 3, 1), (2, 3, 4)))
SAMPLES["slice"] = lambda rng: Sample((randn(rng, 3, 5), 1, 1, 5, 2))
SAMPLES["narrow"] = lambda rng: Sample((randn(rng, 3, 5), 1, 1, 3))
SAMPLES["select"] = lambda rng: Sample((randn(rng, 3, 4), 1, -1))
SAMPLES["flip"] = lambda rng: Sample((randn(rng, 3, 4), [0, 1]))
SAMPLES["roll"] = lambda rng: Sample((randn(rng, 3, 4), 1, 1))
SAMPLES["repeat"] = lambda rng: Sample((randn(rng, 2, 3), 2, 1, 2))
SAMPLES["tile"] = lambda rng: Sample((randn(rng, 2, 3), (2,)))
SAMPLES["diagonal"] = lambda rng: Sample((randn(rng, 3, 4), 1))
SAMPLES["tril"] = lambda rng: Sample((randn(rng, 3, 4),))
SAMPLES["triu"] = lambda rng: Sample((randn(rng, 3, 4), 1))
SAMPLES["cat"] = lambda rng: Sample(([randn(rng, 3, 2), randn(rng, 3, 1), randn(rng, 3, 3)], 1))
SAMPLES["stack"] = lambda rng: Sample(([randn(rng, 3, 2), randn(rng, 3, 2)], 1))
SAMPLES["split"] = lambda rng: Sample((randn(rng, 3, 5), 2, 1))
SAMPLES["chunk"] = lambda rng: Sample((randn(rng, 3, 5), 2, 1))
SAMPLES["unbind"] = lambda rng: Sample((randn(rng, 3, 4), 1))
SAMPLES["_to_dtype"] = lambda rng: Sample((randn(rng, 3, 4), pt.float64))
SAMPLES["_to_device"] = lambda rng: Sample((randn(rng, 3, 4), pt.device("cpu")))


def _copy_into_fresh(dst_shape):
    def call(src):
        dst = pt.zeros(dst_shape, dtype=pt.float64) * 1.0
        return pt.ops.copy_(dst, src)
    return call


SAMPLES["copy_"] = lambda rng: Sample((randn(rng, 4),), call=_copy_into_fresh((3, 4)))

# ---- indexing -----------------------------------------------------------------------------
SAMPLES["index"] = lambda rng: Sample((randn(rng, 3, 4), [None, idx([0, 2, 2, 3])]))
SAMPLES["index_put"] = lambda rng: Sample((randn(rng, 3, 4), [idx([0, 2])], randn(rng, 4)))
SAMPLES["index_select"] = lambda rng: Sample((randn(rng, 3, 4), 1, idx([3, 0, 3])))
SAMPLES["gather"] = lambda rng: Sample((randn(rng, 3, 4), 1, idx([[0, 0], [3, 1], [2, 2]])))
SAMPLES["take_along_dim"] = lambda rng: Sample((randn(rng, 3, 4), idx([[0, 0], [3, 1], [2, 2]]), 1))
# (a src larger than index: its unread elements get a zero gradient, of src's shape)
SAMPLES["scatter"] = lambda rng: Sample((randn(rng, 3, 4), 1, idx([[0, 2], [3, 1]]), randn(rng, 3, 3)))
SAMPLES["scatter_add"] = lambda rng: Sample((randn(rng, 3, 4), 1, idx([[0, 0], [3, 1], [1, 1]]), randn(rng, 4, 3)))
SAMPLES["masked_fill"] = lambda rng: Sample((randn(rng, 3, 4), pt.tensor([True, False, False, True]), 0.5))
SAMPLES["masked_select"] = lambda rng: Sample((randn(rng, 3, 4), pt.tensor([True, False, False, True])))


def flat_inputs(s: Sample):
    """The tensors of a sample that require grad, in argument order (lists flattened)."""
    out = []
    for a in s.args:
        if isinstance(a, pt.Tensor) and a.requires_grad:
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(b for b in a if isinstance(b, pt.Tensor) and b.requires_grad)
    return out


def as_function(name: str, s: Sample):
    """``f(*diff_inputs)`` calling op ``name`` with the sample's other arguments fixed."""
    op = getattr(pt.ops, name)

    def rebuild(new):
        it = iter(new)
        args = []
        for a in s.args:
            if isinstance(a, pt.Tensor) and a.requires_grad:
                args.append(next(it))
            elif isinstance(a, (list, tuple)) and any(isinstance(b, pt.Tensor) and b.requires_grad for b in a):
                args.append(type(a)(next(it) if isinstance(b, pt.Tensor) and b.requires_grad else b for b in a))
            else:
                args.append(a)
        return args

    if s.call is not None:
        return s.call

    def f(*new):
        return op(*rebuild(new), **s.kwargs)
    return f

# ---- nn's composite ops (plugtorch/nn/ops.py): importing plugtorch.nn registers them, so the
# table above and the registry agree whichever tests ran first ---------------------------------
import plugtorch.nn  # noqa: E402,F401

SAMPLES["linear"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 2, 4), randn(rng, 2)))
SAMPLES["bilinear"] = lambda rng: Sample((randn(rng, 2, 3), randn(rng, 2, 2), randn(rng, 2, 3, 2), randn(rng, 2)))
SAMPLES["conv1d"] = lambda rng: Sample((randn(rng, 1, 2, 5), randn(rng, 3, 2, 3), randn(rng, 3)), {"padding": 1})
SAMPLES["conv2d"] = lambda rng: Sample((randn(rng, 1, 2, 4, 4), randn(rng, 2, 1, 2, 2), randn(rng, 2)),
                                       {"stride": 2, "padding": 1, "groups": 2})
# a depthwise conv2d's weight gradient (its formula's op), differentiated in grad and input
SAMPLES["_depthwise_conv2d_weight_grad"] = lambda rng: Sample((randn(rng, 2, 2, 3, 3), randn(rng, 2, 2, 5, 4),
                                                               randn(rng, 2, 1, 2, 2), (2, 1), (0, 1, 1, 0), (1, 2)))
SAMPLES["conv_transpose2d"] = lambda rng: Sample((randn(rng, 1, 2, 3, 3), randn(rng, 2, 1, 2, 2)), {"stride": 2})
SAMPLES["max_pool2d"] = lambda rng: Sample((distinct(rng, 1, 2, 4, 4), 2))
SAMPLES["avg_pool2d"] = lambda rng: Sample((randn(rng, 1, 2, 4, 4), 3), {"stride": 1, "padding": 1})
SAMPLES["batch_norm"] = lambda rng: Sample((randn(rng, 4, 3), None, None, randn(rng, 3), randn(rng, 3)),
                                           {"training": True})
SAMPLES["hardtanh"] = lambda rng: Sample((randn(rng, 3, 4), -0.5, 0.5))
SAMPLES["gelu"] = lambda rng: Sample((randn(rng, 3, 4),))
SAMPLES["silu"] = lambda rng: Sample((randn(rng, 3, 4),))
SAMPLES["_gelu_backward"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3, 4), "tanh"))
SAMPLES["_silu_backward"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3, 4)))
SAMPLES["layer_norm"] = lambda rng: Sample((randn(rng, 3, 4), (4,), randn(rng, 4), randn(rng, 4)))
SAMPLES["rms_norm"] = lambda rng: Sample((randn(rng, 3, 4), (4,), randn(rng, 4)), {"eps": 1e-3})
SAMPLES["group_norm"] = lambda rng: Sample((randn(rng, 2, 4, 3), 2, randn(rng, 4), randn(rng, 4)))
SAMPLES["embedding"] = lambda rng: Sample((idx([[0, 2], [2, 1]]), randn(rng, 3, 4)))
# embedding_bag of a 1-D input (its op): a sum with per-sample weights, a mean with padding and an empty bag
SAMPLES["_embedding_bag"] = lambda rng: Sample((idx([0, 2, 2, 1, 2]), randn(rng, 3, 4), idx([0, 2, 2]), "sum",
                                                randn(rng, 5)))
SAMPLES["nll_loss"] = lambda rng: Sample((randn(rng, 4, 3), idx([0, 2, 1, 2])))
SAMPLES["cross_entropy"] = lambda rng: Sample((randn(rng, 4, 3), idx([0, 2, 1, -100])), {"label_smoothing": 0.1})
SAMPLES["_linear_backward"] = lambda rng: Sample((randn(rng, 2, 3, 4), randn(rng, 2, 3, 5), randn(rng, 4, 5),
                                                 (True, True, True)))
# layer_norm's gradients (its formula's op), differentiated in grad, input and weight (double backward)
SAMPLES["_layer_norm_backward"] = lambda rng: Sample((randn(rng, 2, 3, 4), randn(rng, 2, 3, 4), (3, 4),
                                                     randn(rng, 3, 4), 1e-5, (True, True, True)))
# the gradient of cross_entropy (its formula's op), differentiated in grad and input (double backward)
SAMPLES["_cross_entropy_backward"] = lambda rng: Sample(
    (randn(rng, 3, 2), randn(rng, 3, 4, 2), idx([[0, 3], [1, -100], [2, 2]]), T(rng.uniform(0.5, 2, 4), grad=False),
     -100, "none", 0.2))
SAMPLES["scaled_dot_product_attention"] = lambda rng: Sample((randn(rng, 1, 2, 3), randn(rng, 1, 3, 3),
                                                             randn(rng, 1, 3, 2)))
# the losses autocast runs in float32; |input - target| kept off each formula's kinks (0, beta, delta)
_zeros34 = lambda: T(np.zeros((3, 4)))   # noqa: E731
SAMPLES["mse_loss"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3, 4)), {"weight": pos(rng, 3, 4)})
SAMPLES["l1_loss"] = lambda rng: Sample((distinct(rng, 3, 4), _zeros34()))
SAMPLES["smooth_l1_loss"] = lambda rng: Sample((distinct(rng, 3, 4), _zeros34()), {"beta": 0.7})
SAMPLES["huber_loss"] = lambda rng: Sample((distinct(rng, 3, 4), _zeros34()), {"delta": 0.7, "reduction": "sum"})
SAMPLES["kl_div"] = lambda rng: Sample((randn(rng, 3, 4), pos(rng, 3, 4)), {"reduction": "batchmean"})
SAMPLES["binary_cross_entropy"] = lambda rng: Sample((pos(rng, 3, 4, lo=0.1, hi=0.9), pos(rng, 3, 4, lo=0.0, hi=1.0),
                                                     pos(rng, 3, 4)))
SAMPLES["binary_cross_entropy_with_logits"] = lambda rng: Sample(
    (randn(rng, 3, 4), pos(rng, 3, 4, lo=0.0, hi=1.0)), {"pos_weight": pos(rng, 4)})
SAMPLES["cosine_embedding_loss"] = lambda rng: Sample(
    (randn(rng, 3, 4), randn(rng, 3, 4), T([1.0, -1.0, -1.0], grad=False)), {"margin": -2.0})   # off the hinge
SAMPLES["margin_ranking_loss"] = lambda rng: Sample(
    (distinct(rng, 4), T(np.zeros(4)), T([1.0, -1.0, 1.0, -1.0], grad=False)))
SAMPLES["cosine_similarity"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3, 4)))
SAMPLES["soft_margin_loss"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3, 4)))
SAMPLES["hinge_embedding_loss"] = lambda rng: Sample((distinct(rng, 3, 4), T([[1.0, -1.0, -1.0, 1.0]] * 3, grad=False)),
                                                     {"margin": 0.2})   # 0.2 - x stays off 0
SAMPLES["poisson_nll_loss"] = lambda rng: Sample((pos(rng, 3, 4), pos(rng, 3, 4, lo=1.5, hi=4.0)),
                                                 {"log_input": False, "full": True})
SAMPLES["multi_margin_loss"] = lambda rng: Sample((distinct(rng, 3, 4), idx([0, 3, 1])),
                                                  {"p": 2, "margin": 0.2, "weight": pos(rng, 4)})
SAMPLES["gaussian_nll_loss"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3, 4), pos(rng, 3)), {"full": True})
SAMPLES["multilabel_soft_margin_loss"] = lambda rng: Sample((randn(rng, 3, 4), T([[1.0, 0.0, 1.0, 0.0]] * 3, grad=False),
                                                             pos(rng, 4)))
SAMPLES["ctc_loss"] = lambda rng: Sample((randn(rng, 4, 2, 3).log_softmax(2).detach().requires_grad_(),
                                           idx([[1, 2], [2, 2]]), idx([4, 3]), idx([2, 2])), {"reduction": "sum"})
SAMPLES["multilabel_margin_loss"] = lambda rng: Sample((distinct(rng, 3, 4), idx([[3, 0, -1, 1], [1, 2, 3, 0],
                                                                                [2, -1, 0, 0]])))
SAMPLES["triplet_margin_loss"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 3, 4), randn(rng, 3, 4)),
                                                    {"margin": 5.0, "swap": True})   # margin: off the hinge

# ---- plugtorch.linalg: symmetric inputs are built inside ``call`` (the kernels read one triangle),
# and eigen/singular vectors enter squared (their signs are arbitrary) -----------------------------
_eye3 = pt.eye(3, dtype=pt.float64)


def _spd(x):
    return x @ x.mT + 3 * _eye3


def _lin(rng, *shape):
    return T(rng.standard_normal(shape) + 3 * np.eye(shape[-1]) if shape[-1] == shape[-2] else rng.standard_normal(shape))


def _call_sample(make, call):
    def s(rng):
        args = make(rng)
        return Sample(args, {}, call)
    return s


SAMPLES["linalg_cholesky_ex"] = _call_sample(lambda rng: (randn(rng, 2, 3, 3),),
                                             lambda x: pt.ops.linalg_cholesky_ex(_spd(x))[0])
SAMPLES["linalg_cholesky"] = _call_sample(lambda rng: (randn(rng, 3, 3),), lambda x: pt.ops.linalg_cholesky(_spd(x), upper=True))
SAMPLES["linalg_inv_ex"] = lambda rng: Sample((_lin(rng, 2, 3, 3),))
SAMPLES["linalg_inv"] = lambda rng: Sample((_lin(rng, 3, 3),))
SAMPLES["linalg_solve_ex"] = lambda rng: Sample((_lin(rng, 2, 3, 3), randn(rng, 3)))
SAMPLES["linalg_solve"] = lambda rng: Sample((_lin(rng, 3, 3), randn(rng, 2, 3)), {"left": False})
SAMPLES["linalg_det"] = lambda rng: Sample((randn(rng, 2, 3, 3),))
SAMPLES["linalg_slogdet"] = lambda rng: Sample((randn(rng, 3, 3),))
SAMPLES["linalg_solve_triangular"] = lambda rng: Sample((_lin(rng, 3, 3), randn(rng, 3, 2)), {"upper": True})
SAMPLES["linalg_qr"] = lambda rng: Sample((randn(rng, 4, 3),))
SAMPLES["linalg_eigh"] = _call_sample(lambda rng: (randn(rng, 3, 3),),
                                      lambda x: (lambda r: (r[0], r[1] * r[1]))(pt.ops.linalg_eigh(x + x.mT)))
SAMPLES["linalg_eigvalsh"] = _call_sample(lambda rng: (randn(rng, 3, 3),), lambda x: pt.ops.linalg_eigvalsh(x + x.mT))
SAMPLES["linalg_svd"] = _call_sample(lambda rng: (randn(rng, 4, 3),),
                                     lambda x: (lambda r: (r[0].abs(), r[1], r[2].abs()))(pt.ops.linalg_svd(x, False)))
SAMPLES["linalg_svdvals"] = lambda rng: Sample((randn(rng, 3, 4),))
SAMPLES["linalg_lstsq"] = lambda rng: Sample((randn(rng, 5, 3), randn(rng, 5, 2)))
SAMPLES["linalg_pinv"] = lambda rng: Sample((randn(rng, 3, 4),))
SAMPLES["linalg_matrix_norm"] = lambda rng: Sample((randn(rng, 3, 4), "nuc"))
SAMPLES["linalg_norm"] = lambda rng: Sample((randn(rng, 3, 4), 2))
SAMPLES["linalg_cross"] = lambda rng: Sample((randn(rng, 2, 3), randn(rng, 3)))
SAMPLES["linalg_vecdot"] = lambda rng: Sample((randn(rng, 2, 3), randn(rng, 3)))
SAMPLES["fft_irfftn"] = lambda rng: Sample((randn(rng, 3, 4), (5, 6), None, "ortho"))
SAMPLES["_fft_rfftn_real"] = lambda rng: Sample((randn(rng, 3, 5), (0, 1)))


# complex autograd (autograd/complex_formulas.py): complex128 inputs, or real ones with complex results
def crandn(rng, *shape):
    """A complex128 tensor that requires grad."""
    return pt.tensor(rng.standard_normal(shape) + 1j * rng.standard_normal(shape), requires_grad=True)


SAMPLES["fft_fftn"] = lambda rng: Sample((crandn(rng, 3, 4), (4, 3), None, "ortho"))
SAMPLES["fft_ifftn"] = lambda rng: Sample((crandn(rng, 2, 5), None, (1,), "forward"))
SAMPLES["fft_rfftn"] = lambda rng: Sample((randn(rng, 3, 5), (3, 6)))
SAMPLES["conj_physical"] = SAMPLES["conj"] = SAMPLES["real"] = SAMPLES["imag"] = SAMPLES["angle"] = \
    SAMPLES["view_as_real"] = lambda rng: Sample((crandn(rng, 2, 3),))
SAMPLES["view_as_complex"] = lambda rng: Sample((randn(rng, 3, 2),))
SAMPLES["complex"] = SAMPLES["polar"] = lambda rng: Sample((pos(rng, 2, 3), randn(rng, 3)))
SAMPLES["stft"] = lambda rng: Sample((randn(rng, 12), 4), {"hop_length": 2, "window": pt.hann_window(4, dtype=pt.float64),
                                                          "return_complex": True})
SAMPLES["istft"] = lambda rng: Sample((crandn(rng, 3, 5), 4), {"hop_length": 2, "window": pt.hann_window(4, dtype=pt.float64)})


# the special functions (dispatch/ops/special.py), inside their domains
SAMPLES["acosh"] = lambda rng: Sample((pos(rng, 3, 4, lo=1.2, hi=3.0),))
SAMPLES["atanh"] = SAMPLES["erfinv"] = lambda rng: Sample((unit(rng, 3, 4),))
SAMPLES["special_ndtri"] = lambda rng: Sample((pos(rng, 3, 4, lo=0.1, hi=0.9),))
for _n in ("asinh", "erfc", "i0", "sinc", "special_erfcx", "special_log_ndtr", "special_i0e", "special_i1",
           "special_i1e"):
    SAMPLES[_n] = lambda rng: Sample((distinct(rng, 3, 4),))
for _n in ("lgamma", "digamma"):
    SAMPLES[_n] = lambda rng: Sample((pos(rng, 3, 4, lo=0.3, hi=4.0),))
SAMPLES["polygamma"] = lambda rng: Sample((2, pos(rng, 3, 4, lo=0.3, hi=4.0)))
SAMPLES["copysign"] = lambda rng: Sample((distinct(rng, 3, 4), T(rng.uniform(-1, 1, (4,)), grad=False)))
SAMPLES["nextafter"] = lambda rng: Sample((distinct(rng, 3, 4), T(rng.uniform(-1, 1, (4,)))))
SAMPLES["special_xlog1py"] = lambda rng: Sample((randn(rng, 3, 4), pos(rng, 4)))
# (PyTorch differentiates zeta and gammainc in their second argument only)
SAMPLES["special_zeta"] = lambda rng: Sample((pos(rng, 3, 4, lo=1.5, hi=3.0).detach(), pos(rng, 4)))
for _n in ("special_gammainc", "special_gammaincc"):
    SAMPLES[_n] = lambda rng: Sample((pos(rng, 3, 4).detach(), pos(rng, 4)))


# shapes, scans, scatters, statistics (dispatch/ops/arrangements.py, scans.py, scatters.py, statistics.py)
SAMPLES["unfold"] = lambda rng: Sample((randn(rng, 7, 2), 0, 3, 2))
SAMPLES["as_strided"] = lambda rng: Sample((randn(rng, 4, 5), (3, 3), (5, 2), 1))
SAMPLES["as_strided_scatter"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 2, 2), (2, 2), (1, 4), 1))
SAMPLES["rot90"] = lambda rng: Sample((randn(rng, 3, 4), 3, (1, 0)))
SAMPLES["kron"] = lambda rng: Sample((randn(rng, 2, 3), randn(rng, 3, 2)))
SAMPLES["renorm"] = lambda rng: Sample((randn(rng, 3, 4), 2, 0, 0.5))
SAMPLES["cummax"] = _call_sample(lambda rng: (distinct(rng, 3, 5),), lambda x: pt.ops.cummax(x, 1)[0])
SAMPLES["cummin"] = _call_sample(lambda rng: (distinct(rng, 5, 2),), lambda x: pt.ops.cummin(x, 0)[0])
SAMPLES["logcumsumexp"] = lambda rng: Sample((randn(rng, 3, 5), 1))
SAMPLES["select_scatter"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 4), 0, 1))
SAMPLES["slice_scatter"] = lambda rng: Sample((randn(rng, 5, 2), randn(rng, 2, 2), 0, 1, None, 2))
SAMPLES["diagonal_scatter"] = lambda rng: Sample((randn(rng, 3, 4), randn(rng, 2), 1, 1, 0))
SAMPLES["diag_embed"] = lambda rng: Sample((randn(rng, 2, 3), 1, 0, 2))
SAMPLES["masked_scatter"] = lambda rng: Sample((randn(rng, 2, 3), pt.tensor([True, False, True]), randn(rng, 5)))
SAMPLES["put"] = lambda rng: Sample((randn(rng, 2, 3), idx([0, 5, -1]), randn(rng, 3), True))
SAMPLES["index_reduce"] = lambda rng: Sample((pos(rng, 3, 2), 0, idx([0, 2, 0]), pos(rng, 3, 2), "prod"))
SAMPLES["scatter_reduce"] = lambda rng: Sample((distinct(rng, 3, 2), 0, idx([[0, 2], [0, 0]]), distinct(rng, 2, 2),
                                                 "amax"))
SAMPLES["quantile"] = lambda rng: Sample((distinct(rng, 3, 5), T([0.2, 0.7], grad=False), 1))
SAMPLES["nanquantile"] = lambda rng: Sample((distinct(rng, 3, 5), 0.4))
SAMPLES["cov"] = lambda rng: Sample((randn(rng, 2, 4),), {"aweights": T([1.0, 2.0, 3.0, 1.0], grad=False)})
SAMPLES["corrcoef"] = lambda rng: Sample((randn(rng, 3, 5),))
SAMPLES["cdist"] = lambda rng: Sample((randn(rng, 3, 2), randn(rng, 4, 2), 1.5))
SAMPLES["matrix_exp"] = lambda rng: Sample((randn(rng, 2, 3, 3),))
# one LSTM layer over packed rows (batch sizes 2, 2, 1), in reverse, with a projection: its outputs
# (out, h_n, c_n), not the workspace that follows them
SAMPLES["_rnn_layer"] = _call_sample(
    lambda rng: (randn(rng, 5, 12), randn(rng, 2, 2), randn(rng, 2, 3), randn(rng, 12, 2), randn(rng, 2, 3)),
    lambda xw, h0, c0, w_hh, w_hr: pt.ops._rnn_layer(xw, h0, c0, w_hh, None, w_hr, "LSTM", True, (2, 2, 1))[:3])
# its formula's op (backpropagation through time), over packed rows with a projection, differentiated
# in every tensor (the workspace inputs random: the function is smooth in each)
SAMPLES["_rnn_layer_backward"] = lambda rng: Sample(
    (randn(rng, 5, 2), randn(rng, 2, 2), randn(rng, 2, 3), randn(rng, 5, 12), randn(rng, 12, 2), randn(rng, 2, 3),
     randn(rng, 5, 2), randn(rng, 5, 2), randn(rng, 5, 3), randn(rng, 5, 3), randn(rng, 5, 12), "LSTM", False, False,
     (2, 2, 1)))

# nn ops registered for autocast's policy lists (max_pool3d ... the reflection/replication pads)
SAMPLES["max_pool3d"] = lambda rng: Sample((distinct(rng, 1, 1, 4, 4, 4), 2))
SAMPLES["avg_pool3d"] = lambda rng: Sample((randn(rng, 1, 1, 3, 4, 4), 2), {"stride": 1, "padding": 1})
SAMPLES["adaptive_avg_pool3d"] = lambda rng: Sample((randn(rng, 1, 2, 4, 5, 3), (2, 3, 2)))
SAMPLES["grid_sample"] = lambda rng: Sample((randn(rng, 1, 1, 3, 4), T(rng.uniform(-0.9, 0.9, (1, 2, 3, 2)))),
                                            {"align_corners": False})
SAMPLES["prelu"] = lambda rng: Sample((T(rng.uniform(0.2, 1.0, (2, 3, 4)) * rng.choice([-1.0, 1.0], (2, 3, 4))),
                                       pos(rng, 3)))
SAMPLES["trace"] = lambda rng: Sample((randn(rng, 3, 4),))
for _k in ("reflection", "replication"):
    SAMPLES[f"{_k}_pad1d"] = lambda rng: Sample((randn(rng, 1, 2, 4), (2, 1)))
    SAMPLES[f"{_k}_pad2d"] = lambda rng: Sample((randn(rng, 1, 2, 3, 4), (1, 2, 2, 1)))
    SAMPLES[f"{_k}_pad3d"] = lambda rng: Sample((randn(rng, 1, 1, 3, 3, 4), (1, 1, 2, 0, 1, 2)))
