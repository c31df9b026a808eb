"""nn functions on integer and bool inputs: the dtype and values torch 2.13 gives, or its refusal,
on every backend (the fuzzer's findings 8 and 9 of issue 15)."""
import numpy as np
import pytest

import plugtorch as pt

F = pt.nn.functional
DEVICES = pt.backends.available()


@pytest.mark.parametrize("device", DEVICES)
def test_avg_pool2d_of_int64_stays_int64_and_truncates(device):
    x = pt.tensor([[[[1, 2], [3, 5]]]], device=device)
    r = F.avg_pool2d(x, 2)
    assert r.dtype is pt.int64 and r.tolist() == [[[[2]]]]            # 11 / 4 rounded toward zero
    assert F.avg_pool2d(-x, 2).tolist() == [[[[-2]]]]
    assert F.avg_pool2d(x, 2, divisor_override=3).tolist() == [[[[3]]]]
    assert F.avg_pool2d(x, 2, padding=1).tolist() == [[[[0, 0], [0, 1]]]]
    assert F.avg_pool2d(x, 2, padding=1, count_include_pad=False).tolist() == [[[[1, 2], [3, 5]]]]
    y = pt.tensor([[[[1, 2, 4], [3, 5, 6], [1, 1, 1]]]], device=device)
    assert F.avg_pool2d(y, 2, ceil_mode=True).tolist() == [[[[2, 5], [1, 1]]]]
    # the window sum wraps in int64 first, as PyTorch's: 4 * 2**62 is 0
    assert F.avg_pool2d(pt.full((1, 1, 2, 2), 2**62, device=device), 2).tolist() == [[[[0]]]]
    r = F.avg_pool1d(pt.tensor([[1, 2, 3, 5]], device=device), 2)
    assert r.dtype is pt.int64 and r.tolist() == [[1, 4]]
    assert pt.nn.AvgPool2d(2)(pt.ones(1, 2, 6, 6, dtype=pt.int64, device=device)).dtype is pt.int64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32])
def test_average_pooling_refuses_other_integer_dtypes(device, dtype):
    # torch 2.13: NotImplementedError "avg_pool2d" not implemented for 'Int' (and for bool, uint8 ...);
    # the adaptive ones had returned integer zeros (their averaging weights 1/n truncated to 0)
    x = pt.ones(1, 1, 4, 4, dtype=dtype, device=device)
    with pytest.raises(NotImplementedError, match=r"avg_pool2d\(\): not implemented for dtype"):
        F.avg_pool2d(x, 2)
    with pytest.raises(NotImplementedError, match=r"adaptive_avg_pool2d\(\): not implemented for dtype"):
        F.adaptive_avg_pool2d(x, 2)
    with pytest.raises(NotImplementedError, match=r"adaptive_avg_pool2d\(\): not implemented for dtype"):
        F.adaptive_avg_pool1d(x[0], 2)


@pytest.mark.parametrize("device", DEVICES)
def test_adaptive_avg_pool2d_of_int64_is_refused(device):
    with pytest.raises(NotImplementedError, match="adaptive_avg_pool2d.*'Long'"):
        F.adaptive_avg_pool2d(pt.tensor([[[[1, 2], [3, 5]]]], device=device), 1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype,scale,want", [
    (pt.int32, 1, 15),      # torch 2.13: int32 [[15, 15]] (was int64)
    (pt.uint8, 10, 220),    # 1500 wraps in uint8, as torch's
    (pt.int64, 1, 15),
])
def test_bilinear_keeps_integer_dtypes(device, dtype, scale, want):
    x1 = pt.ones(4, 3, dtype=dtype, device=device) * scale
    x2 = pt.ones(4, 5, dtype=dtype, device=device) * scale
    r = F.bilinear(x1, x2, pt.ones(2, 3, 5, dtype=dtype, device=device))
    assert r.dtype is dtype
    np.testing.assert_array_equal(r.cpu().numpy(), np.full((4, 2), want))


INT_LOSS_REFUSALS = [   # (loss, call on integer/bool a and b, exception, message) as torch 2.13 refuses them
    ("mse_loss", lambda a, b: F.mse_loss(a, b, reduction="none"), NotImplementedError, "mse_loss"),
    ("smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b), NotImplementedError, "smooth_l1_loss"),
    ("huber_loss", lambda a, b: F.huber_loss(a, b, reduction="sum"), NotImplementedError, "huber_loss"),
    ("bce_with_logits", lambda a, b: F.binary_cross_entropy_with_logits(a, b), NotImplementedError,
     "binary_cross_entropy_with_logits"),
    ("multi_margin_loss", lambda a, b: F.multi_margin_loss(a, pt.tensor([0, 1])), NotImplementedError,
     "multi_margin_loss"),
    ("multilabel_margin_loss", lambda a, b: F.multilabel_margin_loss(a, pt.tensor([[0, -1], [1, -1]])),
     NotImplementedError, "multilabel_margin_loss"),
    ("kl_div", lambda a, b: F.kl_div(a, b, reduction="sum"), RuntimeError, "kl_div: Integral inputs not supported"),
    ("kl_div float input", lambda a, b: F.kl_div(a.float(), b, reduction="sum"), RuntimeError,
     "kl_div: Integral inputs not supported"),
    ("soft_margin_loss", lambda a, b: F.soft_margin_loss(a, b), RuntimeError,
     r"soft_margin_loss\(\): expected a floating point input"),
    ("hinge_embedding_loss", lambda a, b: F.hinge_embedding_loss(a, b.float(), reduction="none"), RuntimeError,
     r"hinge_embedding_loss\(\): expected a floating point input"),
    ("bce_with_logits int target", lambda a, b: F.binary_cross_entropy_with_logits(a.float(), b), RuntimeError,
     r"binary_cross_entropy_with_logits\(\): expected a floating point target"),
]


@pytest.mark.parametrize("dtype", [pt.int64, pt.int32, pt.bool])
@pytest.mark.parametrize("name,call,err,match", INT_LOSS_REFUSALS, ids=[c[0] for c in INT_LOSS_REFUSALS])
def test_losses_refuse_integer_inputs(name, call, err, match, dtype):
    a, b = pt.tensor([[1, 0], [0, 1]]).to(dtype), pt.tensor([[0, 1], [1, 1]]).to(dtype)
    with pytest.raises(err, match=match):
        call(a, b)


@pytest.mark.parametrize("device", DEVICES)
def test_losses_take_a_bool_target_beside_a_float_input(device):
    x = pt.tensor([[1.0, 0.0], [0.0, 1.0]], device=device)
    y = pt.tensor([[False, True], [True, True]], device=device)
    assert F.mse_loss(x, y).item() == 0.75 and F.mse_loss(y, x).item() == 0.75         # as torch: in float32
    assert F.smooth_l1_loss(x, y).item() == 0.375 and F.huber_loss(x, y).item() == 0.375
    np.testing.assert_allclose(F.soft_margin_loss(x, y).item(), np.log1p(np.exp(-np.array([0, 0, 0, 1.0]))).mean(),
                               rtol=1e-6)
    r = F.mse_loss(x, pt.tensor([[0, 1], [1, 1]], device=device), reduction="none")   # an int target: promoted
    assert r.dtype is pt.float32 and r.tolist() == [[1.0, 1.0], [1.0, 0.0]]
