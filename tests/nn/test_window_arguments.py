"""Convolution, pooling, unfold and fold refuse a non-positive stride, kernel size, dilation or
groups and a negative padding with PyTorch's RuntimeError naming the op and the argument
(a zero stride was a ZeroDivisionError, a zero dilation a silently wrong result).

The class of every TABLE row was checked against torch 2.13 (tools/check_error_classes.py runs
the table on torch).
"""
import numpy as np
import pytest

import plugtorch as pt

F = pt.nn.functional
DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]


def img(d, *shape):
    return pt.ones(shape, device=d)


TABLE = [
    ("Conv2d stride=0", lambda d: pt.nn.Conv2d(1, 1, 3, stride=0).to(d)(img(d, 1, 1, 5, 5)), RuntimeError,
     r"conv2d\(\): stride should be greater than zero, but got stride=0"),
    ("conv2d stride (1, 0)", lambda d: F.conv2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3), stride=(1, 0)), RuntimeError,
     r"conv2d\(\): stride should be greater than zero, but got stride=\(1, 0\)"),
    ("conv2d stride -1", lambda d: F.conv2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3), stride=-1), RuntimeError, "stride"),
    ("conv2d dilation 0", lambda d: F.conv2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3), dilation=0), RuntimeError,
     r"conv2d\(\): dilation should be greater than zero"),
    ("conv2d padding -1", lambda d: F.conv2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3), padding=(1, -1)), RuntimeError,
     r"conv2d\(\): negative padding is not supported, but got padding=\(1, -1\)"),
    ("conv2d groups 0", lambda d: F.conv2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3), groups=0), RuntimeError,
     r"conv2d\(\): non-positive groups is not supported, but got groups=0"),
    ("conv2d empty kernel", lambda d: F.conv2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 0, 3)), RuntimeError,
     r"conv2d\(\): kernel_size should be greater than zero, but got kernel_size=\(0, 3\)"),
    ("conv1d stride 0", lambda d: F.conv1d(img(d, 1, 1, 5), img(d, 1, 1, 3), stride=0), RuntimeError,
     r"conv1d\(\): stride should be greater than zero"),
    ("conv1d padding -2", lambda d: F.conv1d(img(d, 1, 1, 5), img(d, 1, 1, 3), padding=-2), RuntimeError,
     r"conv1d\(\): negative padding"),
    ("conv_transpose2d stride 0", lambda d: F.conv_transpose2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3), stride=0),
     RuntimeError, r"conv_transpose2d\(\): stride should be greater than zero"),
    ("conv_transpose2d output_padding -1", lambda d: F.conv_transpose2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3),
                                                                     output_padding=-1),
     RuntimeError, "negative output_padding is not supported"),
    ("conv_transpose2d output_padding >= stride", lambda d: F.conv_transpose2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3),
                                                                            stride=2, output_padding=2),
     RuntimeError, "output padding must be smaller than either stride or dilation"),
    ("conv_transpose2d groups 0", lambda d: F.conv_transpose2d(img(d, 1, 1, 5, 5), img(d, 1, 1, 3, 3), groups=0),
     RuntimeError, "non-positive groups"),
    ("max_pool2d kernel_size 0", lambda d: F.max_pool2d(img(d, 1, 1, 4, 4), kernel_size=0), RuntimeError,
     r"max_pool2d\(\): kernel_size should be greater than zero, but got kernel_size=0"),
    ("max_pool2d stride 0", lambda d: F.max_pool2d(img(d, 1, 1, 4, 4), 2, stride=0), RuntimeError,
     r"max_pool2d\(\): stride should be greater than zero"),
    ("max_pool2d padding -1", lambda d: F.max_pool2d(img(d, 1, 1, 4, 4), 2, padding=-1), RuntimeError,
     r"max_pool2d\(\): negative padding"),
    ("max_pool2d dilation 0", lambda d: F.max_pool2d(img(d, 1, 1, 4, 4), 2, dilation=0), RuntimeError,
     r"max_pool2d\(\): dilation should be greater than zero"),
    ("MaxPool2d(0)", lambda d: pt.nn.MaxPool2d(0)(img(d, 1, 1, 4, 4)), RuntimeError, "kernel_size should be greater than zero"),
    ("max_pool1d kernel_size 0", lambda d: F.max_pool1d(img(d, 1, 1, 4), 0), RuntimeError,
     r"max_pool1d\(\): kernel_size should be greater than zero"),
    ("max_pool1d stride 0", lambda d: F.max_pool1d(img(d, 1, 1, 4), 2, stride=0), RuntimeError,
     r"max_pool1d\(\): stride should be greater than zero"),
    ("avg_pool2d kernel_size 0", lambda d: F.avg_pool2d(img(d, 1, 1, 4, 4), kernel_size=0), RuntimeError,
     r"avg_pool2d\(\): kernel_size should be greater than zero"),
    ("avg_pool2d stride 0", lambda d: F.avg_pool2d(img(d, 1, 1, 4, 4), 2, stride=0), RuntimeError,
     r"avg_pool2d\(\): stride should be greater than zero"),
    ("avg_pool2d divisor_override 0", lambda d: F.avg_pool2d(img(d, 1, 1, 4, 4), 2, divisor_override=0), RuntimeError,
     "divisor must be not zero"),
    ("AvgPool2d(0)", lambda d: pt.nn.AvgPool2d(0)(img(d, 1, 1, 4, 4)), RuntimeError, "kernel_size should be greater than zero"),
    ("avg_pool1d kernel_size 0", lambda d: F.avg_pool1d(img(d, 1, 1, 4), 0), RuntimeError,
     r"avg_pool1d\(\): kernel_size should be greater than zero"),
    ("adaptive_avg_pool2d -1", lambda d: F.adaptive_avg_pool2d(img(d, 1, 1, 4, 4), -1), RuntimeError,
     r"adaptive_avg_pool2d\(\): elements of output_size must be greater than or equal to 0"),
    ("adaptive_max_pool2d (2, -1)", lambda d: F.adaptive_max_pool2d(img(d, 1, 1, 4, 4), (2, -1)), RuntimeError,
     r"adaptive_max_pool2d\(\): elements of output_size"),
    ("unfold kernel_size 0", lambda d: F.unfold(img(d, 1, 1, 4, 4), 0), RuntimeError,
     r"unfold\(\): kernel_size should be greater than zero"),
    ("unfold stride 0", lambda d: F.unfold(img(d, 1, 1, 4, 4), 2, stride=0), RuntimeError,
     r"unfold\(\): stride should be greater than zero"),
    ("unfold dilation 0", lambda d: F.unfold(img(d, 1, 1, 4, 4), 2, dilation=0), RuntimeError,
     r"unfold\(\): dilation should be greater than zero"),
    ("unfold padding -1", lambda d: F.unfold(img(d, 1, 1, 4, 4), 2, padding=-1), RuntimeError, r"unfold\(\): negative padding"),
    ("fold stride 0", lambda d: F.fold(img(d, 1, 4, 4), (3, 3), 2, stride=0), RuntimeError,
     r"fold\(\): stride should be greater than zero"),
    ("fold kernel_size 0", lambda d: F.fold(img(d, 1, 4, 4), (3, 3), 0), RuntimeError,
     r"fold\(\): kernel_size should be greater than zero"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("desc,call,exc,match", TABLE, ids=[t[0] for t in TABLE])
def test_window_argument_errors(device, desc, call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call(device)
    assert type(info.value) is exc


@pytest.mark.parametrize("device", DEVICES)
def test_adaptive_pooling_to_zero_bins_is_empty(device):
    # PyTorch returns an empty result for an output size of 0 (it was a ValueError from max())
    x = pt.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), device=device, requires_grad=True)
    out = F.adaptive_avg_pool2d(x, (2, 0))
    assert tuple(out.shape) == (1, 1, 2, 0) and out.device == x.device
    assert tuple(F.adaptive_avg_pool2d(x, 0).shape) == (1, 1, 0, 0)
    assert tuple(F.adaptive_avg_pool1d(x[0], 0).shape) == (1, 4, 0)
    values, indices = F.adaptive_max_pool2d(x, (0, 3), return_indices=True)
    assert tuple(values.shape) == tuple(indices.shape) == (1, 1, 0, 3) and indices.dtype is pt.int64
    out.sum().backward()   # still part of the graph: the input's gradient is zero
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.zeros((1, 1, 4, 4), np.float32))


def test_window_arguments_of_the_wrong_length_raise_runtime_error_as_pytorch():
    # max_pool1d(x, (2, 3)) took the kernel 2 silently (a 2-d helper read v[0]); the 2-d and 3-d
    # functionals raised ValueError, PyTorch RuntimeError
    x1, x2, x3 = pt.randn(1, 2, 6), pt.randn(1, 2, 5, 5), pt.randn(1, 2, 4, 4, 4)
    for fn in (lambda: F.max_pool1d(x1, (2, 3)), lambda: F.avg_pool1d(x1, 2, (1, 1)),
               lambda: F.max_pool1d(x1, 2, padding=(0, 1))):
        with pytest.raises(RuntimeError, match=r"pool1d\(\): \w+ must be an int or a tuple of 1 int, got \(\d, \d\)"):
            fn()
    for fn in (lambda: F.max_pool2d(x2, (2, 2, 2)), lambda: F.avg_pool2d(x2, 2, (1, 1, 1)),
               lambda: F.conv2d(x2, pt.randn(1, 2, 2, 2), stride=(1, 1, 1)), lambda: F.unfold(x2, (2, 2, 2)),
               lambda: F.adaptive_avg_pool2d(x2, (2, 2, 2)), lambda: F.max_pool3d(x3, (2, 2))):
        with pytest.raises(RuntimeError, match=r"must be an int or a tuple of [23] ints"):
            fn()
    assert F.max_pool1d(x1, (2,)).shape == F.max_pool1d(x1, 2).shape   # a 1-tuple is fine
