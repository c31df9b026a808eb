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
