"""The losses under autocast: float32 on both of PyTorch's lists, binary_cross_entropy refused on
the CUDA list (opencl, cuda, plug-ins) with PyTorch's message and run in float32 on the CPU list.

Each loss of half-precision inputs must equal the same loss of those inputs widened to float32
outside autocast (the op casts its inputs, then runs its decomposition in float32), and its
gradients reach the inputs in their own dtype. Torch 2.13 on cpu gives float32 for each of these
losses under autocast("cpu") of bfloat16 and of float16 inputs, and bfloat16 for
cosine_similarity, which its CPU list leaves out.
"""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .test_autocast import accel, opencl_ok  # noqa: F401  (the plug-in accelerator fixture)


def _probs(shape, seed, device, dtype):
    g = np.random.default_rng([seed, 7])
    return pt.tensor(g.uniform(0.05, 0.95, shape), dtype=dtype, device=device)


def _randn(shape, seed, device, dtype):
    g = np.random.default_rng([seed, 11])
    return pt.tensor(g.standard_normal(shape), dtype=dtype, device=device)


def _signs(n, device, dtype):
    return pt.tensor([1.0, -1.0, 1.0, -1.0][:n], dtype=dtype, device=device)


# name -> (inputs(device, dtype), keyword arguments): each input is a tensor of that dtype
LOSSES = {
    "mse_loss": (lambda d, t: (_randn((4, 5), 0, d, t), _randn((4, 5), 1, d, t)), {}),
    "l1_loss": (lambda d, t: (_randn((4, 5), 0, d, t), _randn((4, 5), 1, d, t)), {"reduction": "sum"}),
    "smooth_l1_loss": (lambda d, t: (_randn((4, 5), 0, d, t), _randn((4, 5), 1, d, t)), {"beta": 0.5}),
    "huber_loss": (lambda d, t: (_randn((4, 5), 0, d, t), _randn((4, 5), 1, d, t)), {"delta": 0.5}),
    "kl_div": (lambda d, t: (_randn((4, 5), 0, d, t).log_softmax(1), _probs((4, 5), 1, d, t)),
               {"reduction": "batchmean"}),
    "binary_cross_entropy_with_logits": (lambda d, t: (_randn((4, 5), 0, d, t), _probs((4, 5), 1, d, t)), {}),
    "cosine_embedding_loss": (lambda d, t: (_randn((4, 5), 0, d, t), _randn((4, 5), 1, d, t), _signs(4, d, t)),
                              {"margin": 0.1}),
    "margin_ranking_loss": (lambda d, t: (_randn((4,), 0, d, t), _randn((4,), 1, d, t), _signs(4, d, t)),
                            {"reduction": "none"}),
    "soft_margin_loss": (lambda d, t: (_randn((4,), 0, d, t), _signs(4, d, t)), {}),
    "hinge_embedding_loss": (lambda d, t: (_randn((4,), 0, d, t), _signs(4, d, t)), {"margin": 0.5}),
    "poisson_nll_loss": (lambda d, t: (_randn((4, 5), 0, d, t), _probs((4, 5), 1, d, t) * 4), {"full": True}),
    "triplet_margin_loss": (lambda d, t: (_randn((4, 5), 0, d, t), _randn((4, 5), 1, d, t), _randn((4, 5), 2, d, t)),
                            {"swap": True}),
    "multi_margin_loss": (lambda d, t: (_randn((4, 5), 0, d, t), pt.tensor([0, 4, 2, 1], device=d)), {"p": 2}),
    "multilabel_margin_loss": (lambda d, t: (_randn((2, 5), 0, d, t), pt.tensor([[4, 0, -1, 1, 1], [2, 3, 1, 0, 4]],
                                                                               device=d)), {}),
}
CPU_FP32 = dict(LOSSES, binary_cross_entropy=(
    lambda d, t: (_probs((4, 5), 0, d, t), _probs((4, 5), 1, d, t), _probs((4, 5), 2, d, t)), {}))   # with a weight
COSINE = (lambda d, t: (_randn((4, 5), 0, d, t), _randn((4, 5), 1, d, t)), {"dim": 1})


def _check_float32(name, inputs, kwargs, autocast):
    """Under ``autocast`` the loss is float32 and equals the float32 loss of the widened inputs;
    the gradients reach the inputs in their dtype."""
    leaves = [x.detach().requires_grad_() if x.dtype.is_floating_point and k < 2 else x
              for k, x in enumerate(inputs)]   # (the first two: BCE's weight takes no gradient)
    with autocast:
        out = getattr(F, name)(*leaves, **kwargs)
    assert out.dtype is pt.float32, (name, out.dtype)
    want = getattr(F, name)(*[x.detach().float() if x.dtype.is_floating_point else x for x in inputs], **kwargs)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), want.cpu().numpy())
    out.sum().backward()
    assert leaves[0].grad is not None, name
    for x in leaves[:2]:    # (a target used only in comparisons, hinge_embedding_loss's, gets none)
        assert x.grad is None or x.grad.dtype is x.dtype, (name, x.grad)
    return out


@pytest.mark.parametrize("dtype", [pt.bfloat16, pt.float16])
@pytest.mark.parametrize("name", sorted(CPU_FP32))
def test_cpu_list_runs_the_losses_in_float32(name, dtype):
    make, kwargs = CPU_FP32[name]
    inputs = make("cpu", dtype)
    assert getattr(F, name)(*inputs, **kwargs).dtype is dtype       # outside autocast: the inputs' dtype
    _check_float32(name, inputs, kwargs, pt.autocast("cpu", dtype=dtype))


def test_cpu_list_leaves_cosine_similarity_and_float64_alone():
    make, kwargs = COSINE
    x1, x2 = make("cpu", pt.bfloat16)
    with pt.autocast("cpu"):
        assert F.cosine_similarity(x1, x2, **kwargs).dtype is pt.bfloat16   # not on PyTorch's CPU list
        a, b = _randn((3,), 0, "cpu", pt.float64), _randn((3,), 1, "cpu", pt.float64)
        assert F.mse_loss(a, b).dtype is pt.float64                            # float64 is never cast
        assert F.mse_loss(a.float(), b.bfloat16()).dtype is pt.float32         # mixed: both in float32
        assert nn.MSELoss()(a.bfloat16(), b.bfloat16()).dtype is pt.float32   # the modules call the ops


def test_cpu_list_runs_binary_cross_entropy_in_float32():
    p, y = _probs((6,), 0, "cpu", pt.bfloat16), _probs((6,), 1, "cpu", pt.bfloat16)
    with pt.autocast("cpu"):
        assert nn.BCELoss()(p, y).dtype is pt.float32
        with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
            F.binary_cross_entropy(p + 1, y)    # its checks still run


@pytest.mark.parametrize("name", sorted(LOSSES) + ["cosine_similarity"])
def test_cuda_list_runs_the_losses_in_float32_on_a_plugin(accel, name):  # noqa: F811
    make, kwargs = COSINE if name == "cosine_similarity" else LOSSES[name]
    _check_float32(name, make(accel, pt.float16), kwargs, pt.autocast("accel"))


def test_cuda_list_softplus_softmin_and_normalize_end_in_float32_through_their_pieces(accel):  # noqa: F811
    h = _randn((3, 4), 0, accel, pt.float16)
    with pt.autocast("accel"):
        for r in (F.softplus(h), F.softmin(h, 1), F.normalize(h)):
            assert r.dtype is pt.float32
    x = _randn((3, 4), 0, "cpu", pt.bfloat16)
    with pt.autocast("cpu"):
        for r in (F.softplus(x), F.softmin(x, 1), F.normalize(x)):
            assert r.dtype is pt.bfloat16       # torch 2.13 on cpu: bfloat16 too


BCE_UNSAFE = (r"^plugtorch\.nn\.functional\.binary_cross_entropy and plugtorch\.nn\.BCELoss are unsafe to "
              r"autocast\.\nMany models use a sigmoid layer right before the binary cross entropy layer\.\n"
              r"In this case, combine the two layers using plugtorch\.nn\.functional\."
              r"binary_cross_entropy_with_logits\nor plugtorch\.nn\.BCEWithLogitsLoss\.  "
              r"binary_cross_entropy_with_logits and BCEWithLogits are\nsafe to autocast\.$")


def test_cuda_list_refuses_binary_cross_entropy_on_a_plugin(accel):  # noqa: F811
    p, y = _probs((6,), 0, accel, pt.float16), _probs((6,), 1, accel, pt.float16)
    with pt.autocast("accel"):
        for args in ((p, y), (p.float(), y.float()), (p.double(), y.double())):   # whatever the dtypes
            with pytest.raises(RuntimeError, match=BCE_UNSAFE):
                F.binary_cross_entropy(*args)
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            nn.BCELoss()(p, y)
        with pt.autocast("accel", enabled=False):      # the way out PyTorch's users take
            assert F.binary_cross_entropy(p.float(), y.float()).dtype is pt.float32
        assert F.binary_cross_entropy_with_logits(p, y).dtype is pt.float32
        cp, cy = p.cpu(), y.cpu()
        assert F.binary_cross_entropy(cp, cy).dtype is pt.float16   # cpu tensors: cpu's autocast is off
    assert F.binary_cross_entropy(p, y).dtype is pt.float16


@pytest.mark.skipif(not opencl_ok(), reason="plugtorch.opencl is unavailable (no OpenCL device or pyopencl)")
def test_opencl_runs_the_losses_in_float32_and_refuses_binary_cross_entropy():
    dtype = pt.float16 if pt.float16 in pt.backends.get_backend("opencl").supported_dtypes(0) else pt.bfloat16
    ac = pt.autocast("opencl", dtype=dtype)
    for name in sorted(LOSSES) + ["cosine_similarity"]:
        make, kwargs = COSINE if name == "cosine_similarity" else LOSSES[name]
        _check_float32(name, make("opencl", dtype), kwargs, ac)
    p, y = _probs((6,), 0, "opencl", dtype), _probs((6,), 1, "opencl", dtype)
    with ac:
        with pytest.raises(RuntimeError, match=BCE_UNSAFE):
            F.binary_cross_entropy(p, y)
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            nn.BCELoss()(p.float(), y.float())
