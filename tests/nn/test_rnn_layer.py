"""``_rnn_layer``, the op nn.RNN / LSTM / GRU run per layer and direction: its outputs equal the
cells stepped one by one bit for bit, its backward formula equals the recurrence differentiated op
by op, second derivatives included, and finite differences."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.nn.modules.rnn import _GATES, _loop, _Step

rng = np.random.default_rng(3)

CASES = [("LSTM", False, False), ("LSTM", True, True), ("GRU", False, False), ("GRU", True, False),
         ("RNN_TANH", False, False), ("RNN_RELU", True, False)]


def _inputs(mode, proj, dtype=pt.float64, seq=5, batch=3, hidden=4, p=2):
    def t(*shape):
        return pt.tensor(rng.standard_normal(shape) * 0.7, dtype=dtype, requires_grad=True)
    gates = _GATES[mode] * hidden
    out = p if proj else hidden
    return (t(seq, batch, gates), t(batch, out), t(batch, hidden) if mode == "LSTM" else None, t(gates, out),
            t(gates) if mode == "GRU" else None, t(p, hidden) if proj else None)


def _op(inputs, mode, reverse):
    res = pt.ops._rnn_layer(*inputs, mode, reverse)
    return res[:3] if mode == "LSTM" else res[:2]


def _stepped(inputs, mode, reverse):
    xw, h0, c0, w_hh, b_hh, w_hr = inputs
    out, state = _loop(_Step(mode, w_hh, b_hh, w_hr), xw, (h0, c0) if mode == "LSTM" else h0, reverse)
    return (out, *state) if mode == "LSTM" else (out, state)


@pytest.mark.parametrize("mode, reverse, proj", CASES)
def test_outputs_equal_the_cells_stepped_bit_for_bit(mode, reverse, proj):
    inputs = _inputs(mode, proj, pt.float32)
    for a, b in zip(_op(inputs, mode, reverse), _stepped(inputs, mode, reverse)):
        assert pt.equal(a, b)


@pytest.mark.parametrize("mode, reverse, proj", CASES)
def test_gradients_equal_the_recurrence_differentiated_op_by_op(mode, reverse, proj):
    inputs = _inputs(mode, proj)
    leaves = [x for x in inputs if x is not None]
    outs_a, outs_b = _op(inputs, mode, reverse), _stepped(inputs, mode, reverse)
    weights = [pt.tensor(rng.standard_normal(tuple(o.shape)), dtype=pt.float64) for o in outs_a]
    ga = pt.autograd.grad(sum((o * w).sum() for o, w in zip(outs_a, weights)), leaves)
    gb = pt.autograd.grad(sum((o * w).sum() for o, w in zip(outs_b, weights)), leaves)
    for a, b in zip(ga, gb):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    # create_graph: the second derivative through the formula equals the op-by-op one
    ga = pt.autograd.grad((_op(inputs, mode, reverse)[0] ** 2).sum(), leaves[0], create_graph=True)[0]
    gb = pt.autograd.grad((_stepped(inputs, mode, reverse)[0] ** 2).sum(), leaves[0], create_graph=True)[0]
    da = pt.autograd.grad((ga * ga).sum(), leaves[1:])
    db = pt.autograd.grad((gb * gb).sum(), leaves[1:])
    for a, b in zip(da, db):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode, reverse, proj", [("LSTM", True, True), ("GRU", False, False)])
def test_gradcheck(mode, reverse, proj):
    inputs = _inputs(mode, proj, seq=3, batch=2, hidden=3)
    present = [k for k, x in enumerate(inputs) if x is not None]

    def f(*xs):
        args = list(inputs)
        for k, x in zip(present, xs):
            args[k] = x
        return _op(args, mode, reverse)
    assert pt.autograd.gradcheck(f, [inputs[k] for k in present])


def test_nn_modules_run_it_and_keep_their_results():
    pt.manual_seed(0)
    m = pt.nn.LSTM(4, 5, num_layers=2, bidirectional=True, proj_size=3)
    x = pt.randn(6, 2, 4)
    out, (h, c) = m(x)
    assert [f.name() for f, _ in out.grad_fn.next_functions] == ["RnnLayerBackward"] * 2   # cat of 2 directions
    with pt.no_grad():
        ref = m(x)
    assert pt.equal(out, ref[0]) and pt.equal(h, ref[1][0]) and pt.equal(c, ref[1][1])


def test_errors():
    xw, h0, c0, w_hh, _, _ = _inputs("LSTM", False)
    with pytest.raises(ValueError, match="unknown mode 'CELL'"):
        pt.ops._rnn_layer(xw, h0, c0, w_hh, None, None, "CELL", False)
    with pytest.raises(ValueError, match="c0 is LSTM's cell state"):
        pt.ops._rnn_layer(xw, h0, None, w_hh, None, None, "LSTM", False)
    with pytest.raises(RuntimeError, match=r"expected xw .* got xw \[5, 3, 16\], h0 \[3, 4\], w_hh \[12, 4\]"):
        pt.ops._rnn_layer(xw, h0, c0, w_hh[:12], None, None, "LSTM", False)
    with pytest.raises(RuntimeError, match=r"non-increasing positive batch_sizes.* batch_sizes \[1, 3\]"):
        pt.ops._rnn_layer(xw[0, :1].expand(4, 16), h0, c0, w_hh, None, None, "LSTM", False, (1, 3))



@pytest.mark.parametrize("batch_sizes, why", [((1, 3, 1), "increasing"), ((3, 2, 0), "a zero"),
                                              ((), "no steps"), ((3, 1), "rows != sum")])
def test_backward_checks_batch_sizes_as_the_forward_does(batch_sizes, why):
    # packed rows (5, gates) with batch_sizes that do not describe them: a RuntimeError naming
    # the op and the sizes (not NumPy's IndexError/ValueError from inside the kernel)
    xw, h0, c0, w_hh, _, _ = (None if t is None else t.detach() for t in _inputs("GRU", False))
    res = pt.ops._rnn_layer(xw.reshape(-1, xw.shape[-1])[:5], h0, None, w_hh, None, None, "GRU", False,
                            (3, 1, 1))
    rows = res[0].shape[0]
    assert rows == 5
    xw5 = xw.reshape(-1, xw.shape[-1])[:5]
    dout, dhn = pt.ones_like(res[0]), pt.ones_like(res[1])
    with pytest.raises(RuntimeError, match=r"_rnn_layer_backward\(\): expected .*non-increasing positive "
                                           r"batch_sizes.*batch_sizes \[" + ", ".join(map(str, batch_sizes))):
        pt.ops._rnn_layer_backward(dout, dhn, None, xw5, w_hh, None, res[0], res[2], None, None, res[3],
                                   "GRU", False, False, batch_sizes)
    with pytest.raises(RuntimeError, match=r"_rnn_layer_backward\(\): expected xw \(seq > 0, batch, gates\)"):
        pt.ops._rnn_layer_backward(dout, dhn, None, xw5, w_hh, None, res[0], res[2], None, None, res[3],
                                   "GRU", False, False)   # packed rows without their batch_sizes
    # the right batch_sizes: d_xw has xw's shape
    got = pt.ops._rnn_layer_backward(dout, dhn, None, xw5, w_hh, None, res[0], res[2], None, None, res[3],
                                     "GRU", False, False, (3, 1, 1))
    assert got[0].shape == xw5.shape and got[1].shape == h0.shape

@pytest.mark.parametrize("mode, reverse, proj", CASES)
def test_packed_rows_equal_each_sequence_stepped_alone(mode, reverse, proj):
    lengths = [5, 5, 3, 1]
    xwp, h0, c0, w_hh, b_hh, w_hr = _inputs(mode, proj, batch=4)
    packed = pt.nn.utils.rnn.pack_padded_sequence(xwp, lengths)
    res = pt.ops._rnn_layer(packed.data, h0, c0, w_hh, b_hh, w_hr, mode, reverse, tuple(packed.batch_sizes.tolist()))
    lstm = mode == "LSTM"
    out = pt.nn.utils.rnn.pad_packed_sequence(pt.nn.utils.rnn.PackedSequence(res[0], packed.batch_sizes))[0]
    wo = pt.tensor(rng.standard_normal(tuple(out.shape)))
    wh = pt.tensor(rng.standard_normal(tuple(h0.shape)))
    loss = (out * wo).sum() + (res[1] * wh).sum() + ((res[2] * res[2]).sum() if lstm else 0)
    ref = 0
    for k, n in enumerate(lengths):
        step = _Step(mode, w_hh, b_hh, w_hr)
        state = (h0[k:k + 1], c0[k:k + 1]) if lstm else h0[k:k + 1]
        o, st = _loop(step, xwp[:n, k:k + 1], state, reverse)
        close(o[:, 0], out[:n, k])      # (one row's matmul rounds apart from the batch's: not bit for bit)
        close((st[0] if lstm else st)[0], res[1][k])
        ref = ref + (o[:, 0] * wo[:n, k]).sum() + ((st[0] if lstm else st)[0] * wh[k]).sum()
        if lstm:
            close(st[1][0], res[2][k])
            ref = ref + (st[1] * st[1]).sum()
    leaves = [x for x in (xwp, h0, c0, w_hh, b_hh, w_hr) if x is not None]
    for a, b in zip(pt.autograd.grad(loss, leaves), pt.autograd.grad(ref, leaves)):
        close(a, b)


def close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.float16, pt.bfloat16])
@pytest.mark.parametrize("mode, reverse, proj", CASES)
@pytest.mark.parametrize("batch_sizes", [None, (3, 3, 2, 1, 1)])
def test_cpu_kernel_equals_the_decomposition_bit_for_bit(dtype, mode, reverse, proj, batch_sizes):
    # cpu runs _rnn_layer as one NumPy kernel (backends/cpu/rnn_kernels.py); every output, the
    # workspaces included, has the decomposition's bits (halves rounded after each op as theirs)
    from plugtorch.dispatch.ops.rnn import _rnn_layer
    xw, *rest = (None if t is None else t.detach() for t in _inputs(mode, proj, dtype))
    if batch_sizes is not None:
        xw = xw.reshape(-1, xw.shape[-1])[:sum(batch_sizes)]
    args = (xw, *rest, mode, reverse, batch_sizes)
    got, want = pt.ops._rnn_layer(*args), _rnn_layer(*args)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a.float().numpy(), b.float().numpy())


def test_no_grad_lstm_runs_the_op_and_equals_the_cells():
    # without gradients nn.LSTM / GRU also run _rnn_layer (one kernel on cpu); its outputs are
    # the cells stepped one by one, bit for bit
    pt.manual_seed(0)
    for m in (pt.nn.LSTM(3, 4, batch_first=True), pt.nn.GRU(3, 4, bidirectional=True)):
        x = pt.randn(2, 5, 3)
        with pt.no_grad():
            out = m(x)[0]
            xw = pt.nn.functional.linear(x.transpose(0, 1) if m.batch_first else x, m.weight_ih_l0,
                                         m.bias_ih_l0 + m.bias_hh_l0 if m.mode == "LSTM" else m.bias_ih_l0)
            h0 = pt.zeros(x.shape[0] if m.batch_first else x.shape[1], 4)
            state = (h0, h0) if m.mode == "LSTM" else h0
            ref = _loop(_Step(m.mode, m.weight_hh_l0, m.bias_hh_l0, None), xw, state, False)[0]
        out = out.transpose(0, 1) if m.batch_first else out
        assert pt.equal(out[..., :4], ref)


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.float16, pt.bfloat16])
@pytest.mark.parametrize("mode, reverse, proj", CASES)
@pytest.mark.parametrize("batch_sizes", [None, (3, 3, 2, 1, 1)])
def test_cpu_backward_kernel_equals_the_decomposition(dtype, mode, reverse, proj, batch_sizes):
    # _rnn_layer's formula runs _rnn_layer_backward, on cpu one NumPy kernel: float32 and float64
    # give the decomposition's bits; float16 and bfloat16 compute in float32 and round once, so
    # they differ from the decomposition's rounding after every op by a few of their ulps
    from plugtorch.dispatch.ops.rnn import _rnn_layer_backward
    xw, h0, c0, w_hh, b_hh, w_hr = (None if t is None else t.detach() for t in _inputs(mode, proj, dtype))
    if batch_sizes is not None:
        xw = xw.reshape(-1, xw.shape[-1])[:sum(batch_sizes)]
    res = pt.ops._rnn_layer(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes)
    lstm = mode == "LSTM"

    def g(t):
        return pt.tensor(rng.standard_normal(tuple(t.shape)), dtype=dtype)
    args = (g(res[0]), g(res[1]), g(res[2]) if lstm else None, xw, w_hh, w_hr, res[0], res[3 if lstm else 2],
            res[4] if lstm else None, res[5] if lstm else None, res[6] if lstm else res[3] if mode == "GRU" else None,
            mode, reverse, b_hh is not None, batch_sizes)
    got, want = pt.ops._rnn_layer_backward(*args), _rnn_layer_backward(*args)
    assert len(got) == len(want) == 6
    for a, b in zip(got, want):
        assert (a is None) == (b is None)
        if a is None:
            continue
        assert a.dtype == b.dtype and a.shape == b.shape
        if dtype in (pt.float32, pt.float64):
            assert np.array_equal(a.numpy(), b.numpy())
        else:
            scale = max(1.0, float(b.double().abs().max()))
            assert float((a.double() - b.double()).abs().max()) <= 0.05 * scale
