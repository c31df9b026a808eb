"""Memory formats: plugtorch.channels_last / channels_last_3d / contiguous_format / preserve_format.

Strides and errors are PyTorch 2.13's (its answers written down here); values are checked against
the same computation on a row-major tensor, on every available backend (cpu, opencl, the 'strict'
plug-in).
"""
from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

DEVICES = pt.backends.available()
CL = (60, 1, 15, 3)            # torch.empty(2, 3, 4, 5, memory_format=torch.channels_last).stride()
CL3D = (360, 1, 90, 18, 3)     # torch.empty(2, 3, 4, 5, 6, memory_format=torch.channels_last_3d).stride()
ROW = (60, 20, 5, 1)


def _nchw(device="cpu", shape=(2, 3, 4, 5)):
    return pt.arange(float(np.prod(shape)), device=device).reshape(*shape)


def test_the_four_formats():
    assert repr(pt.channels_last) == "plugtorch.channels_last" and str(pt.channels_last_3d) == "plugtorch.channels_last_3d"
    assert [repr(f) for f in (pt.contiguous_format, pt.preserve_format)] == ["plugtorch.contiguous_format",
                                                                              "plugtorch.preserve_format"]
    assert all(isinstance(f, pt.memory_format) for f in (pt.channels_last, pt.contiguous_format))
    assert pickle.loads(pickle.dumps(pt.channels_last)) is pt.channels_last
    assert copy.deepcopy(pt.channels_last_3d) is pt.channels_last_3d
    with pytest.raises(TypeError, match="cannot create 'plugtorch.memory_format' instances"):
        pt.memory_format()


@pytest.mark.parametrize("device", DEVICES)
def test_contiguous_channels_last_strides_and_values(device):
    x = _nchw(device)
    c = x.contiguous(memory_format=pt.channels_last)
    assert c.shape == (2, 3, 4, 5) and c.stride() == CL
    assert not c.is_contiguous() and c.is_contiguous(memory_format=pt.channels_last)
    assert not x.is_contiguous(memory_format=pt.channels_last)
    np.testing.assert_array_equal(c.cpu().numpy(), x.cpu().numpy())
    assert c.contiguous(memory_format=pt.channels_last) is c          # already laid out: itself
    back = c.contiguous()
    assert back.stride() == ROW and back.is_contiguous()
    np.testing.assert_array_equal(back.cpu().numpy(), x.cpu().numpy())
    y = _nchw(device, (2, 3, 4, 5, 6)).contiguous(memory_format=pt.channels_last_3d)
    assert y.stride() == CL3D and y.is_contiguous(memory_format=pt.channels_last_3d)
    np.testing.assert_array_equal(y.cpu().numpy(), np.arange(720.).reshape(2, 3, 4, 5, 6))


def test_size_one_dims_are_both_layouts():
    x = pt.ones(2, 1, 4, 5)   # torch: is_contiguous(channels_last) True; contiguous(...) keeps (20, 20, 5, 1)
    assert x.is_contiguous(memory_format=pt.channels_last)
    assert x.contiguous(memory_format=pt.channels_last).stride() == (20, 20, 5, 1)
    assert pt.empty(2, 3, 1, 1, memory_format=pt.channels_last).stride() == (3, 1, 3, 3)
    assert not pt.ones(2, 3, 4).is_contiguous(memory_format=pt.channels_last)


@pytest.mark.parametrize("device", DEVICES)
def test_copies_preserve_channels_last(device):
    c = _nchw(device).contiguous(memory_format=pt.channels_last)
    ref = np.arange(120.).reshape(2, 3, 4, 5)
    for out in (c.clone(), pt.clone(c), c.to(pt.float64), c.to("cpu"), c.to(device, copy=True)):
        assert out.stride() == CL
        np.testing.assert_array_equal(out.cpu().numpy(), ref)
    for like in (pt.empty_like(c), pt.zeros_like(c), pt.ones_like(c), pt.full_like(c, 2.5), pt.rand_like(c),
                 pt.randn_like(c), pt.randint_like(c, 5)):
        assert like.stride() == CL and like.device == c.device
    assert pt.full_like(c, 2.5).cpu().numpy().tolist() == np.full((2, 3, 4, 5), 2.5).tolist()
    assert pt.zeros_like(c, memory_format=pt.contiguous_format).stride() == ROW
    assert c.clone(memory_format=pt.contiguous_format).stride() == ROW
    assert c.to(pt.float64, memory_format=pt.contiguous_format).stride() == ROW
    sliced = c[:, :, 1:3]   # not dense, but its strides suggest channels_last (torch: (30, 1, 15, 3))
    assert sliced.stride() == CL and sliced.clone().stride() == (30, 1, 15, 3)
    assert pt.empty_like(sliced).stride() == (30, 1, 15, 3) and sliced.to(pt.float64).stride() == (30, 1, 15, 3)
    np.testing.assert_array_equal(sliced.clone().cpu().numpy(), ref[:, :, 1:3])


@pytest.mark.parametrize("device", DEVICES)
def test_copies_preserve_any_dense_order_of_dims(device):
    # preserve_format keeps the order of dims in memory, densely (PyTorch's empty_like: a dense
    # input's strides, else infer_dense_strides); the strides below are torch 2.13's
    x = _nchw(device)
    ref = np.arange(120.).reshape(2, 3, 4, 5)
    def ar(*shape):
        return pt.arange(float(np.prod(shape)), device=device).reshape(*shape), np.arange(float(np.prod(shape))).reshape(*shape)

    (a2, n2), (a3, n3), (a1, n1), (e, ne) = ar(3, 4), ar(2, 3, 4), ar(3, 1, 4), ar(1, 4, 3)
    cases = [(x.permute(0, 2, 3, 1), (60, 5, 1, 20), ref.transpose(0, 2, 3, 1)),
             (a2.t(), (1, 4), n2.T),
             (a3.permute(2, 0, 1), (1, 12, 4), n3.transpose(2, 0, 1)),
             (a1.permute(2, 1, 0), (1, 4, 4), n1.transpose(2, 1, 0)),
             (e.expand(2, 4, 3).transpose(1, 2), (12, 1, 3), np.broadcast_to(ne, (2, 4, 3)).transpose(0, 2, 1))]
    for t, strides, want in cases:
        for out in (t.clone(), pt.clone(t, memory_format=pt.preserve_format), pt.empty_like(t), pt.zeros_like(t),
                    pt.ones_like(t), pt.full_like(t, 2.0), pt.rand_like(t), pt.randn_like(t), t.to(pt.float64)):
            assert out.stride() == strides and out.shape == t.shape
        np.testing.assert_array_equal(t.clone().cpu().numpy(), want)
        np.testing.assert_array_equal(t.to(pt.float64).cpu().numpy(), want)
        assert pt.zeros_like(t).cpu().numpy().tolist() == np.zeros(want.shape).tolist()
        assert t.clone(memory_format=pt.contiguous_format).is_contiguous()
    g = x.permute(0, 2, 3, 1).clone().requires_grad_()
    (g * 3).sum().backward()
    assert g.grad.cpu().numpy().tolist() == np.full((2, 4, 5, 3), 3.0).tolist()


def test_contiguous_preserve_format_returns_a_row_major_tensor_itself():
    x = _nchw()
    assert x.contiguous(memory_format=pt.preserve_format) is x


def test_empty_strided_takes_the_strides():
    for size, stride, n in (((2, 3), (1, 2), 6), ((2, 3), (0, 1), 3), ((2, 3, 4), (1, 8, 2), 24), ((2, 2), (4, 1), 6)):
        t = pt.empty_strided(size, stride)
        assert t.shape == size and t.stride() == stride and t.storage_offset() == 0 and t.is_leaf
        assert t.untyped_storage().nbytes() == n * 4   # just the elements the strides reach, as PyTorch's
        t.fill_(1.5)
        assert t.tolist() == np.full(size, 1.5).tolist()
    r = pt.ones(1, dtype=pt.float64).new_empty_strided((2, 3), (1, 2), requires_grad=True)
    assert r.stride() == (1, 2) and r.dtype is pt.float64 and r.requires_grad and r.is_leaf and r._base is None
    with pytest.raises(RuntimeError, match=r"empty_strided\(\): negative strides are not supported"):
        pt.empty_strided((2, 3), (-1, 1))


@pytest.mark.parametrize("device", DEVICES)
def test_to_and_factories_take_memory_format(device):
    x = _nchw(device)
    c = x.to(memory_format=pt.channels_last)
    assert c.stride() == CL and c.to(memory_format=pt.channels_last) is c   # torch: no copy
    np.testing.assert_array_equal(c.cpu().numpy(), x.cpu().numpy())
    t = x.transpose(0, 1)   # suggests row-major already: to(contiguous_format) aliases it, as in torch
    assert t.to(memory_format=pt.contiguous_format) is t
    assert pt.empty(2, 3, 4, 5, memory_format=pt.channels_last, device=device).stride() == CL
    assert pt.empty((2, 3, 4, 5, 6), memory_format=pt.channels_last_3d, device=device).stride() == CL3D
    assert pt.empty_like(x, memory_format=pt.channels_last).stride() == CL
    z = pt.zeros_like(c, requires_grad=True)
    assert z.is_leaf and z.requires_grad and z.stride() == CL
    (z * 2).sum().backward()
    assert z.grad.cpu().numpy().tolist() == np.full((2, 3, 4, 5), 2.0).tolist()


def test_wrong_rank_and_wrong_type_errors():
    x3, x4 = pt.ones(2, 3, 4), pt.ones(2, 3, 4, 5)
    rank4 = "required rank 4 tensor to use channels_last format"
    for call in (lambda: x3.contiguous(memory_format=pt.channels_last), lambda: x3.to(memory_format=pt.channels_last),
                 lambda: x3.clone(memory_format=pt.channels_last), lambda: pt.empty(2, 3, memory_format=pt.channels_last),
                 lambda: pt.empty_like(x3, memory_format=pt.channels_last)):
        with pytest.raises(RuntimeError, match=rank4):
            call()
    with pytest.raises(RuntimeError, match="required rank 5 tensor to use channels_last_3d format"):
        x4.contiguous(memory_format=pt.channels_last_3d)
    with pytest.raises(RuntimeError, match="preserve memory format is unsupported by the contiguous operator"):
        x4.transpose(0, 1).contiguous(memory_format=pt.preserve_format)
    with pytest.raises(RuntimeError, match="unsupported memory format preserve_format"):
        pt.empty(2, 3, 4, 5, memory_format=pt.preserve_format)
    with pytest.raises(TypeError, match="contiguous\\(\\): argument 'memory_format' must be plugtorch.memory_format, not int"):
        x4.contiguous(memory_format=3)
    with pytest.raises(TypeError, match="is_contiguous\\(\\): argument 'memory_format' must be plugtorch.memory_format, not str"):
        x4.is_contiguous(memory_format="channels_last")


def test_module_to_channels_last():
    m = pt.nn.Sequential(pt.nn.Conv2d(3, 4, 3), pt.nn.BatchNorm2d(4))
    w = m[0].weight.detach().clone()
    assert m.to(memory_format=pt.channels_last) is m
    # torch 2.13: 0.weight (27, 1, 9, 3); the 1-d parameters and buffers are left alone
    assert m[0].weight.stride() == (27, 1, 9, 3) and isinstance(m[0].weight, pt.nn.Parameter)
    assert m[0].bias.stride() == (1,) and m[1].running_mean.stride() == (1,)
    np.testing.assert_array_equal(m[0].weight.detach().numpy(), w.numpy())
    assert pt.nn.Conv3d(2, 2, 1).to(memory_format=pt.channels_last_3d).weight.stride() == (2, 1, 2, 2, 2)
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        pt.nn.Conv3d(2, 2, 1).to(memory_format=pt.channels_last)


def _op_cases(x_row):
    rm, rv = pt.zeros(3, device=x_row.device), pt.ones(3, device=x_row.device)
    w = pt.arange(81., device=x_row.device).reshape(3, 3, 3, 3).sin()
    return {
        "conv2d": lambda a: F.conv2d(a, w.contiguous(memory_format=pt.channels_last), padding=1),
        "batch_norm": lambda a: F.batch_norm(a, rm.clone(), rv.clone(), training=True),
        "relu": lambda a: pt.relu(a - 60.0),
        "add": lambda a: a + a * 2,
        "add_row_major": lambda a: a + x_row,
        "max_pool2d": lambda a: F.max_pool2d(a, 2),
        "interpolate_bilinear": lambda a: F.interpolate(a, scale_factor=2, mode="bilinear"),
        "interpolate_nearest": lambda a: F.interpolate(a, size=(7, 3)),
        "cat": lambda a: pt.cat([a, x_row], 1),
        "reshape": lambda a: a.reshape(2, -1),
    }


@pytest.mark.parametrize("device", DEVICES)
def test_ops_on_channels_last_inputs_equal_row_major(device):
    x = (_nchw(device) / 7.0).sin()
    c = x.contiguous(memory_format=pt.channels_last)
    for name, op in _op_cases(x).items():
        got, ref = op(c), op(x)
        np.testing.assert_allclose(got.cpu().numpy(), ref.cpu().numpy(), rtol=1e-5, atol=1e-5, err_msg=name)
    # gradients reach a channels_last leaf with the row-major leaf's values
    a, b = c.detach().requires_grad_(), x.detach().requires_grad_()
    for leaf in (a, b):
        F.conv2d(leaf, pt.ones(2, 3, 3, 3, device=device), padding=1).relu().sum().backward()
    np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.cpu().numpy(), rtol=1e-5, atol=1e-5)


def test_pointwise_ops_keep_channels_last_on_cpu():
    c = _nchw().contiguous(memory_format=pt.channels_last)
    assert (c + 1).stride() == CL and pt.relu(c).stride() == CL   # as torch's (NumPy keeps the layout)


def _format_of(a):
    return pt.channels_last if a.is_contiguous(memory_format=pt.channels_last) and not a.is_contiguous() \
        else pt.contiguous_format


@pytest.mark.parametrize("device", DEVICES)
def test_conv_pool_norm_and_resize_results_are_channels_last(device):
    # torch 2.13 lays out all of these channels_last for a channels_last input (conv2d also for a
    # channels_last weight alone); the strides below are its answers
    x = (_nchw(device, (2, 4, 6, 5)) / 9.0).cos()
    c = x.contiguous(memory_format=pt.channels_last)
    w = pt.ones(4, 4, 3, 3, device=device) / 9
    cases = {"conv2d": (lambda a: F.conv2d(a, w), (48, 1, 12, 4)),
             "conv2d_groups": (lambda a: F.conv2d(a, w[:, :1], groups=4), (48, 1, 12, 4)),
             "conv_transpose2d": (lambda a: F.conv_transpose2d(a, w), (224, 1, 28, 4)),
             "max_pool2d": (lambda a: F.max_pool2d(a, 2), (24, 1, 8, 4)),
             "avg_pool2d": (lambda a: F.avg_pool2d(a, 2), (24, 1, 8, 4)),
             "batch_norm": (lambda a: F.batch_norm(a, None, None, training=True), (120, 1, 20, 4)),
             "group_norm": (lambda a: F.group_norm(a, 2), (120, 1, 20, 4)),
             "interpolate": (lambda a: F.interpolate(a, scale_factor=2, mode="bilinear"), (480, 1, 40, 4)),
             "adaptive_avg_pool2d": (lambda a: F.adaptive_avg_pool2d(a, 2), (16, 1, 8, 4)),
             # (a * 2 is row-major on opencl, whose pointwise results always are: laid out again)
             "cat_channels": (lambda a: pt.cat([a, (a * 2).contiguous(memory_format=_format_of(a))], 1),
                              (240, 1, 40, 8)),
             "cat_batch": (lambda a: pt.cat((a, a), 0), (120, 1, 20, 4)),
             "cat_width": (lambda a: pt.cat([a, a], -1), (240, 1, 40, 4))}
    for name, (op, strides) in cases.items():
        got, ref = op(c), op(x)
        assert got.stride() == strides, name
        assert ref.is_contiguous() or name == "interpolate", name   # (cpu's comes in NumPy matmul's layout)
        np.testing.assert_allclose(got.cpu().numpy(), ref.cpu().numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    assert F.conv2d(x, w.contiguous(memory_format=pt.channels_last)).stride() == (48, 1, 12, 4)
    assert F.conv2d(input=c, weight=w).stride() == (48, 1, 12, 4)   # keywords too
    assert [t.stride() for t in F.max_pool2d(c, 2, return_indices=True)] == [(24, 1, 8, 4)] * 2


@pytest.mark.parametrize("device", DEVICES)
def test_save_load_round_trips_channels_last_values(device):
    c = _nchw(device).contiguous(memory_format=pt.channels_last)
    buf = io.BytesIO()
    pt.save({"x": c}, buf)
    buf.seek(0)
    r = pt.load(buf)["x"]
    assert r.device == c.device and r.shape == c.shape
    np.testing.assert_array_equal(r.cpu().numpy(), np.arange(120.).reshape(2, 3, 4, 5))


def test_docstring_examples():
    import doctest

    from plugtorch import _memory_format
    result = doctest.testmod(_memory_format, extraglobs={"pt": pt, "plugtorch": pt})
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("device", DEVICES)
def test_training_a_channels_last_model_equals_row_major(device):
    # model.to(memory_format=channels_last) + channels_last inputs: the same losses and weights after Adam
    # steps as the row-major model, and the conv weight stays channels_last through the in-place updates
    x = pt.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32), device=device)
    runs = []
    for fmt in (pt.contiguous_format, pt.channels_last):
        pt.manual_seed(0)
        m = pt.nn.Sequential(pt.nn.Conv2d(3, 4, 3, padding=1), pt.nn.BatchNorm2d(4), pt.nn.ReLU(), pt.nn.MaxPool2d(2),
                             pt.nn.Flatten(), pt.nn.Linear(64, 2)).to(device).to(memory_format=fmt)
        opt = pt.optim.Adam(m.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            loss = m(x.contiguous(memory_format=fmt)).square().mean()
            loss.backward()
            opt.step()
        runs.append((loss.item(), m[0].weight.detach().cpu().numpy(), m[0].weight.stride()))
    assert runs[1][2] == (27, 1, 9, 3) and runs[0][2] == (27, 9, 3, 1)
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-5)
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-4, atol=1e-5)   # float32 sums in other orders


@pytest.mark.parametrize("device", DEVICES)
def test_normalising_and_scan_results_are_row_major_as_torchs(device):
    # torch 2.13 returns these contiguous for transposed and channels_last inputs; cpu kept NumPy's
    # layout of the input, so .view() on the result failed on cpu only
    rng = np.random.default_rng(0)
    base = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    x = pt.tensor(base, device=device).contiguous(memory_format=pt.channels_last)
    t = pt.tensor(base[0, 0], device=device).t()
    ops = {"softmax": lambda a: a.softmax(1), "log_softmax": lambda a: a.log_softmax(-1),
           "cumsum": lambda a: a.cumsum(1), "cumprod": lambda a: a.cumprod(0),
           "logcumsumexp": lambda a: a.logcumsumexp(1), "cummax": lambda a: a.cummax(1)[0],
           "layer_norm": lambda a: pt.nn.functional.layer_norm(a, a.shape[-1:])}
    for name, f in ops.items():
        for a in (x, t):
            got = f(a)
            if device == "strict" and name in ("cumsum", "cumprod"):
                continue   # the Array API plug-in's own scan kernels lay out their results (the standard has no order)
            assert got.is_contiguous(), (name, got.stride())
            want = f(pt.tensor(a.cpu().numpy().copy()))   # the same op on a row-major copy
            np.testing.assert_allclose(got.view(-1).cpu().numpy(), want.reshape(-1).numpy(), rtol=1e-6, atol=1e-6)
    got = pt.nn.functional.instance_norm(x)
    assert got.is_contiguous() and got.view(-1).shape == (120,)
