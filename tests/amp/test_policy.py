"""The autocast policy table against PyTorch's documented op lists.

The lists below are PyTorch's "Autocast Op Reference", copied as data from
https://docs.pytorch.org/docs/stable/amp.html#autocast-op-reference (CUDA Op-Specific Behavior
and CPU Op-Specific Behavior). Every documented op that plugtorch has as a registry op must have
the documented policy in the table; every table entry must be documented, or be one of the few
listed below with the reason (PyTorch's code list, aten/src/ATen/autocast_mode.h, is longer than
its page; checked against torch 2.13).
"""
import pytest

import plugtorch as pt
from plugtorch.dispatch import autocast_policy as policy
from plugtorch.dispatch.registry import OPS

DOC_URL = "https://docs.pytorch.org/docs/stable/amp.html#autocast-op-reference"

DOCUMENTED = {
    "cuda": {
        "lower": """__matmul__ addbmm addmm addmv addr baddbmm bmm chain_matmul multi_dot conv1d conv2d conv3d
                    conv_transpose1d conv_transpose2d conv_transpose3d GRUCell linear LSTMCell matmul mm mv prelu
                    RNNCell""",
        "fp32": """__pow__ __rdiv__ __rpow__ __rtruediv__ acos asin binary_cross_entropy_with_logits cosh
                   cosine_embedding_loss cdist cosine_similarity cross_entropy cumprod cumsum dist erfinv exp expm1
                   group_norm hinge_embedding_loss kl_div l1_loss layer_norm log log_softmax log10 log1p log2
                   margin_ranking_loss mse_loss multilabel_margin_loss multi_margin_loss nll_loss norm normalize
                   pdist poisson_nll_loss pow prod reciprocal rsqrt sinh smooth_l1_loss soft_margin_loss softmax
                   softmin softplus sum renorm tan triplet_margin_loss""",
        "promote": "addcdiv addcmul atan2 bilinear cross dot grid_sample index_put scatter_add tensordot",
        # the page's "CUDA Ops that can autocast to float32" ends: "binary_cross_entropy ... raise[s] an
        # error in autocast-enabled regions" (autocast_mode.cpp's binary_cross_entropy_banned)
        "banned": "binary_cross_entropy",
    },
    "cpu": {
        "lower": """conv1d conv2d conv3d bmm mm linalg_vecdot baddbmm addmm addbmm linear matmul _convolution
                    conv_tbc mkldnn_rnn_layer conv_transpose1d conv_transpose2d conv_transpose3d prelu
                    scaled_dot_product_attention _native_multi_head_attention""",
        "fp32": """avg_pool3d binary_cross_entropy grid_sampler grid_sampler_2d _grid_sampler_2d_cpu_fallback
                   grid_sampler_3d polar prod quantile nanquantile stft cdist trace view_as_complex cholesky_inverse
                   cholesky_solve inverse lu_solve orgqr inverse ormqr pinverse max_pool3d max_unpool2d max_unpool3d
                   adaptive_avg_pool3d reflection_pad1d reflection_pad2d replication_pad1d replication_pad2d
                   replication_pad3d mse_loss cosine_embedding_loss nll_loss nll_loss2d hinge_embedding_loss
                   poisson_nll_loss cross_entropy_loss l1_loss huber_loss margin_ranking_loss soft_margin_loss
                   triplet_margin_loss multi_margin_loss ctc_loss kl_div multilabel_margin_loss
                   binary_cross_entropy_with_logits fft_fft fft_ifft fft_fft2 fft_ifft2 fft_fftn fft_ifftn fft_rfft
                   fft_irfft fft_rfft2 fft_irfft2 fft_rfftn fft_irfftn fft_hfft fft_ihfft linalg_cond
                   linalg_matrix_rank linalg_solve linalg_cholesky linalg_svdvals linalg_eigvals linalg_eigvalsh
                   linalg_inv linalg_householder_product linalg_tensorinv linalg_tensorsolve
                   fake_quantize_per_tensor_affine geqrf _lu_with_info qr svd triangular_solve fractional_max_pool2d
                   fractional_max_pool3d adaptive_max_pool3d multilabel_margin_loss_forward linalg_qr
                   linalg_cholesky_ex linalg_svd linalg_eig linalg_eigh linalg_lstsq linalg_inv_ex""",
        "promote": "cat stack index_copy",
    },
}

# PyTorch's name -> the registry op that plays its part in plugtorch
PLUGTORCH_NAME = {
    "__matmul__": "matmul", "__pow__": "pow", "__rpow__": "pow",
    "__rdiv__": "reciprocal", "__rtruediv__": "reciprocal",   # number / t is number * reciprocal(t), as in PyTorch
    "cross_entropy_loss": "cross_entropy",
    "grid_sampler": "grid_sample",     # (the op under F.grid_sample)
}

# table entries PyTorch's page does not list, and why
UNDOCUMENTED = {
    ("cuda", "_matmul", "lower"): "the core op under matmul, mm and bmm",
    ("cpu", "_matmul", "lower"): "the core op under matmul, mm and bmm",
    ("cuda", "einsum", "lower"): "in autocast_mode.h's AT_FORALL_LOWER_PRECISION_FP",
    ("cpu", "einsum", "lower"): "torch's einsum is composite: its bmm autocasts (einsum of float32 gives bfloat16)",
    ("cuda", "scaled_dot_product_attention", "lower"): "in autocast_mode.h's AT_FORALL_LOWER_PRECISION_FP",
    ("cuda", "logsumexp", "fp32"): "in autocast_mode.h's AT_FORALL_FP32",
    ("cuda", "vector_norm", "fp32"): "linalg_vector_norm, in autocast_mode.h's AT_FORALL_FP32_SET_OPT_DTYPE",
    ("cuda", "huber_loss", "fp32"): "in autocast_mode.h's AT_FORALL_FP32",
    ("cpu", "smooth_l1_loss", "fp32"): "in autocast_mode.cpp's CPU float32 list (torch 2.13 on cpu: float32)",
}


def documented(list_name):
    """{plugtorch op: policy} of the documented names that are registry ops here."""
    out = {}
    for how, names in DOCUMENTED[list_name].items():
        for name in names.split():
            op = PLUGTORCH_NAME.get(name, name)
            if op in OPS:
                assert out.get(op, how) == how, (list_name, op)
                out[op] = how
    return out


@pytest.mark.parametrize("list_name", policy.LISTS)
def test_every_documented_registry_op_has_its_policy(list_name):
    table = policy.table(list_name)
    wrong = {op: (table.get(op), how) for op, how in documented(list_name).items() if table.get(op) != how}
    assert wrong == {}, f"(table, documented at {DOC_URL})"


@pytest.mark.parametrize("list_name", policy.LISTS)
def test_every_table_entry_is_documented_or_explained(list_name):
    doc = documented(list_name)
    for op, how in policy.table(list_name).items():
        assert doc.get(op) == how or (list_name, op, how) in UNDOCUMENTED, (list_name, op, how)


def test_the_table_names_registry_ops_and_known_policies():
    assert sorted(set(policy.POLICIES) - set(OPS)) == []
    for name, entry in policy.POLICIES.items():
        assert len(entry) == len(policy.LISTS)
        assert set(entry) <= {policy.LOWER, policy.FP32, policy.PROMOTE, policy.BANNED, None}
        assert (policy.BANNED in entry) == (name in policy.BANNED_MESSAGES)
        assert not name.endswith("_") and "inplace" not in OPS[name].tags   # in-place ops are not autocast


def test_the_lists_the_two_examples_in_the_issue_name():
    # lower: matmul, linear, conv, bmm; float32: softmax, log_softmax, losses, norms, exp/log/pow, sum, cumsum
    for op in ("matmul", "linear", "conv2d", "bmm", "mm"):
        assert policy.policy(op, "cuda") == policy.policy(op, "cpu") == policy.LOWER
    for op in ("softmax", "log_softmax", "nll_loss", "cross_entropy", "layer_norm", "norm", "exp", "log", "pow",
               "sum", "cumsum"):
        assert policy.policy(op, "cuda") == policy.FP32
    assert policy.policy("softmax", "cpu") is None and policy.policy("cross_entropy", "cpu") == policy.FP32
    assert policy.policy("cat", "cpu") == policy.policy("index_put", "cuda") == policy.PROMOTE


def test_the_losses_pytorch_lists_are_in_the_table():
    # every loss nn.functional has that PyTorch's lists name: float32 on both lists, but
    # binary_cross_entropy, refused on the CUDA list; cosine_similarity is float32 on CUDA only
    losses = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy_with_logits",
              "cosine_embedding_loss", "margin_ranking_loss", "soft_margin_loss", "hinge_embedding_loss",
              "poisson_nll_loss", "triplet_margin_loss", "multi_margin_loss", "multilabel_margin_loss", "nll_loss",
              "cross_entropy")
    for op in losses:
        assert policy.POLICIES[op] == (policy.FP32, policy.FP32), op
    assert policy.POLICIES["binary_cross_entropy"] == (policy.BANNED, policy.FP32)
    assert policy.POLICIES["cosine_similarity"] == (policy.FP32, None)
    assert "unsafe to autocast" in policy.BANNED_MESSAGES["binary_cross_entropy"]


def test_policy_lookups_and_errors():
    assert policy.policy("add", "cuda") is None and policy.policy("nosuchop", "cpu") is None
    assert policy.table("cpu")["linear"] == "lower"
    with pytest.raises(ValueError, match="must be one of .*'cuda', 'cpu'.*got 'tpu'"):
        policy.table("tpu")


def test_backends_declare_their_list():
    from plugtorch.backends.base import Backend
    assert (Backend.autocast_list, Backend.autocast_dtype) == ("cuda", pt.float16)
    cpu = pt.backends.get_backend("cpu")
    assert (cpu.autocast_list, cpu.autocast_dtype) == ("cpu", pt.bfloat16)
    assert pt.get_autocast_dtype("cpu") is pt.bfloat16
    for name in ("opencl", "cuda"):
        assert pt.get_autocast_dtype(name) is pt.float16


def test_docs_amp_md_shows_the_table():
    import pathlib
    import re
    doc = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "amp.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (\w*) ?\| (\w*) ?\|$", doc.split("<!-- policy table", 1)[1], re.M)
    shown = {op: (cuda or None, cpu or None) for op, cuda, cpu in rows}
    assert shown == policy.POLICIES, "docs/amp.md's policy table differs from plugtorch/dispatch/autocast_policy.py"
