"""What autocast does to each op: one table beside the registry, keyed by op name.

``plugtorch.autocast`` (plugtorch/amp/autocast_mode.py) is a dispatch mode that looks up each
call here. An op has one policy per list: PyTorch keeps two, the CUDA list (which cuda, opencl
and, by default, plug-in backends follow) and the CPU list; a backend names the one it follows
in ``Backend.autocast_list``. The policies, as PyTorch's:

- ``LOWER``: floating-point tensors run in the autocast dtype (float16 or bfloat16);
- ``FP32``: floating-point tensors run in float32 (unless the call names a ``dtype``);
- ``PROMOTE``: all floating-point tensors run in the widest of their dtypes;
- ``BANNED``: the op raises (``BANNED_MESSAGES`` says why and what to use instead), whatever the
  dtypes: ``binary_cross_entropy`` on the CUDA list.

Ops not listed run in the dtypes of their inputs. Only float16, bfloat16 and float32 tensors on
the autocast device type are cast (float64 never is). The lists follow PyTorch's documentation
("Autocast Op Reference") and its autocast_mode.h, named by plugtorch's registry ops:

>>> policy("linear", "cpu"), policy("softmax", "cuda"), policy("softmax", "cpu")
('lower', 'fp32', None)
"""
from __future__ import annotations

LOWER, FP32, PROMOTE, BANNED = "lower", "fp32", "promote", "banned"
LISTS = ("cuda", "cpu")

_L, _F, _P, _B, _N = LOWER, FP32, PROMOTE, BANNED, None

# op name: (policy in the CUDA list, policy in the CPU list)
POLICIES: dict[str, tuple] = {
    # matrix products and convolutions: the reason for mixed precision
    "linear": (_L, _L),
    "matmul": (_L, _L),
    "_matmul": (_L, _L),        # the core op under matmul, mm and bmm (PyTorch's mm)
    "mm": (_L, _L),
    "bmm": (_L, _L),
    "addmm": (_L, _L),
    "baddbmm": (_L, _L),
    "addbmm": (_L, _L),
    "mv": (_L, _N),             # CPU: not listed, so mv keeps float32 (its _matmul runs inside it, uncast)
    "addmv": (_L, _N),
    "addr": (_L, _N),
    "einsum": (_L, _L),         # CUDA: in the code's list; CPU: PyTorch's einsum is composite, its bmm autocasts
    "conv1d": (_L, _L),
    "conv2d": (_L, _L),
    "conv_transpose2d": (_L, _L),
    "scaled_dot_product_attention": (_L, _L),
    "prelu": (_L, _L),
    # ops that need float32's range or precision
    "acos": (_F, _N),
    "asin": (_F, _N),
    "cosh": (_F, _N),
    "sinh": (_F, _N),
    "tan": (_F, _N),
    "erfinv": (_F, _N),
    "exp": (_F, _N),
    "expm1": (_F, _N),
    "log": (_F, _N),
    "log10": (_F, _N),
    "log1p": (_F, _N),
    "log2": (_F, _N),
    "reciprocal": (_F, _N),     # and so Tensor.__rtruediv__, which is number * reciprocal(t)
    "rsqrt": (_F, _N),
    "pow": (_F, _N),
    "softmax": (_F, _N),
    "log_softmax": (_F, _N),
    "logsumexp": (_F, _N),
    "sum": (_F, _N),
    "prod": (_F, _F),
    "cumsum": (_F, _N),
    "cumprod": (_F, _N),
    # linear algebra (CPU list only; PyTorch's CUDA list leaves them to their inputs' dtypes)
    "linalg_vecdot": (_N, _L),
    "linalg_cholesky": (_N, _F),
    "linalg_cholesky_ex": (_N, _F),
    "linalg_inv": (_N, _F),
    "linalg_inv_ex": (_N, _F),
    "linalg_solve": (_N, _F),
    "linalg_lstsq": (_N, _F),
    "linalg_qr": (_N, _F),
    "linalg_svd": (_N, _F),
    "linalg_svdvals": (_N, _F),
    "linalg_eigh": (_N, _F),
    "linalg_eigvalsh": (_N, _F),
    "linalg_eig": (_N, _F),
    "linalg_eigvals": (_N, _F),
    "geqrf": (_N, _F),
    "linalg_matrix_rank": (_N, _F),
    "fft_fftn": (_N, _F),
    "fft_ifftn": (_N, _F),
    "fft_rfftn": (_N, _F),
    "fft_irfftn": (_N, _F),
    "polar": (_N, _F),
    "view_as_complex": (_N, _F),
    "norm": (_F, _N),
    "vector_norm": (_F, _N),
    "layer_norm": (_F, _N),
    "group_norm": (_F, _N),
    "nll_loss": (_F, _F),
    "cross_entropy": (_F, _F),
    "mse_loss": (_F, _F),
    "l1_loss": (_F, _F),
    "smooth_l1_loss": (_F, _F),
    "huber_loss": (_F, _F),     # CUDA: in autocast_mode.h's AT_FORALL_FP32, not on the documented page
    "kl_div": (_F, _F),
    "binary_cross_entropy": (_B, _F),
    "binary_cross_entropy_with_logits": (_F, _F),
    "cosine_embedding_loss": (_F, _F),
    "margin_ranking_loss": (_F, _F),
    "soft_margin_loss": (_F, _F),
    "hinge_embedding_loss": (_F, _F),
    "poisson_nll_loss": (_F, _F),
    "triplet_margin_loss": (_F, _F),
    "multi_margin_loss": (_F, _F),
    "multilabel_margin_loss": (_F, _F),
    "ctc_loss": (_N, _F),      # CPU list only
    "cosine_similarity": (_F, _N),
    "cdist": (_F, _F),
    "renorm": (_F, _N),
    "quantile": (_N, _F),      # CPU list only
    "nanquantile": (_N, _F),
    "stft": (_N, _F),
    "trace": (_N, _F),
    "max_pool3d": (_N, _F),    # CPU list only
    "avg_pool3d": (_N, _F),
    "adaptive_avg_pool3d": (_N, _F),
    "grid_sample": (_P, _F),   # CPU: PyTorch's grid_sampler, the op under grid_sample
    "reflection_pad1d": (_N, _F),   # F.pad(mode="reflect") of 1 or 2 dims (not 3: reflection_pad3d)
    "reflection_pad2d": (_N, _F),
    "replication_pad1d": (_N, _F),  # F.pad(mode="replicate")
    "replication_pad2d": (_N, _F),
    "replication_pad3d": (_N, _F),
    # ops whose floating-point inputs must share one dtype
    "atan2": (_P, _N),
    "dot": (_P, _N),
    "bilinear": (_P, _N),
    "index_put": (_P, _N),
    "scatter_add": (_P, _N),
    "cat": (_N, _P),
    "stack": (_N, _P),
}

# nn.RNN / LSTM / GRU (by mode): their recurrence is a loop of ops, so the module casts its input
# and initial state for the whole sequence (plugtorch/nn/modules/rnn.py), as PyTorch's fused RNN ops
# run: _cudnn_rnn on the CUDA list, mkldnn_rnn_layer on the CPU list (LSTM only; CPU's GRU and RNN
# run their cells' ops, which autocast one by one). Not yet GRU on the CUDA list: its separate
# float32 b_hh would promote the state back to float32, so it is left to its ops (float32 result).
RNN_MODES: dict[str, tuple] = {
    "LSTM": (_L, _L),
    "RNN_TANH": (_L, _N),
    "RNN_RELU": (_L, _N),
}


# why a BANNED op raises: PyTorch's message, with plugtorch's names
BANNED_MESSAGES = {
    "binary_cross_entropy": (
        "plugtorch.nn.functional.binary_cross_entropy and plugtorch.nn.BCELoss are unsafe to autocast.\n"
        "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
        "In this case, combine the two layers using plugtorch.nn.functional.binary_cross_entropy_with_logits\n"
        "or plugtorch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
        "safe to autocast."),
}


def policy(op_name: str, list_name: str) -> str | None:
    """The policy of ``op_name`` under ``list_name`` ("cuda" or "cpu"); None if it is not listed."""
    entry = POLICIES.get(op_name)
    if entry is None:
        return None
    return entry[LISTS.index(list_name)]


def table(list_name: str) -> dict:
    """``{op name: policy}`` of the ops listed under ``list_name`` ("cuda" or "cpu")."""
    if list_name not in LISTS:
        raise ValueError(f"autocast policy list must be one of {LISTS}, got {list_name!r}")
    k = LISTS.index(list_name)
    return {name: p[k] for name, p in POLICIES.items() if p[k] is not None}
