"""nn.LSTM under autocast runs in the autocast dtype, as PyTorch's fused RNN ops (mkldnn_rnn_layer
on its CPU list, _cudnn_rnn on its CUDA list): torch 2.13 in ``torch.autocast("cpu")`` gives
bfloat16 output, h_n and c_n for a float32 LSTM and input. GRU keeps float32 on cpu, as torch's.
Values against a float64 NumPy LSTM of the rounded operands, within bfloat16's (float16's)
rounding of each step."""
import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt

CASES = [("cpu", pt.bfloat16), pytest.param("opencl", pt.float16, marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
_NP = {pt.bfloat16: ml_dtypes.bfloat16, pt.float16: np.float16}


def _lstm(x, w_ih, w_hh, b, h, c):
    sig = lambda v: 1 / (1 + np.exp(-v))   # noqa: E731
    out = []
    for xt in x:
        i, f, g, o = np.split(xt @ w_ih.T + h @ w_hh.T + b, 4, -1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out.append(h)
    return np.stack(out), h, c


@pytest.mark.parametrize("dev,dtype", CASES)
def test_lstm_runs_in_the_autocast_dtype(dev, dtype):
    pt.manual_seed(0)
    m = pt.nn.LSTM(3, 4).to(dev)
    x = pt.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)).to(dev)
    with pt.autocast(dev):
        out, (h, c) = m(x)
    assert out.dtype is h.dtype is c.dtype is dtype
    rnd = lambda t: t.detach().float().cpu().numpy().astype(_NP[dtype]).astype(np.float64)   # noqa: E731
    b = rnd(m.bias_ih_l0) + rnd(m.bias_hh_l0)
    z = np.zeros((2, 4))
    ro, rh, rc = _lstm(rnd(x), rnd(m.weight_ih_l0), rnd(m.weight_hh_l0), b, z, z)
    tol = 8 * np.finfo(_NP[dtype]).eps                    # a few roundings per step, 4 steps
    for got, ref in ((out, ro), (h[0], rh), (c[0], rc)):
        np.testing.assert_allclose(got.detach().float().cpu().numpy(), ref, rtol=0, atol=tol)
    out.float().sum().backward()                          # float32 weights get float32 gradients
    assert m.weight_hh_l0.grad.dtype is pt.float32


def test_gru_on_cpu_and_lstm_outside_autocast_keep_float32():
    x = pt.randn(3, 1, 2, generator=pt.Generator().manual_seed(0))
    with pt.autocast("cpu"):
        assert pt.nn.GRU(2, 3)(x)[0].dtype is pt.float32          # torch 2.13 on cpu: float32
        assert pt.nn.RNN(2, 3)(x)[0].dtype is pt.bfloat16
        packed = pt.nn.utils.rnn.pack_padded_sequence(pt.randn(3, 2, 2), [3, 2])
        assert pt.nn.LSTM(2, 3)(packed)[0].data.dtype is pt.bfloat16
    assert pt.nn.LSTM(2, 3)(x)[0].dtype is pt.float32
