"""RNN, LSTM, GRU vs step-by-step NumPy recurrences (all layers and directions)."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(8)


def sig(x):
    return 1 / (1 + np.exp(-x))


def lstm_step(x, h, c, wi, wh, bi, bh, wr=None):
    g = x @ wi.T + bi + h @ wh.T + bh
    i, f, gg, o = np.split(g, 4, -1)
    c = sig(f) * c + sig(i) * np.tanh(gg)
    h = sig(o) * np.tanh(c)
    return (h if wr is None else h @ wr.T), c


def gru_step(x, h, wi, wh, bi, bh):
    xr, xz, xn = np.split(x @ wi.T + bi, 3, -1)
    hr, hz, hn = np.split(h @ wh.T + bh, 3, -1)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def run_ref(mod, x, h0, c0=None):
    """Sequence-first reference: loop over layers, directions and time steps."""
    p = {k: v.detach().numpy() for k, v in mod.named_parameters()}
    dirs = 2 if mod.bidirectional else 1
    inp, hs, cs = x, [], []
    for layer in range(mod.num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            wi, wh = p["weight_ih" + sfx], p["weight_hh" + sfx]
            bi = p.get("bias_ih" + sfx, 0.0)
            bh = p.get("bias_hh" + sfx, 0.0)
            k = layer * dirs + d
            h, c = h0[k], (c0[k] if c0 is not None else None)
            seq = np.zeros((x.shape[0],) + h.shape)
            for t in (range(x.shape[0] - 1, -1, -1) if d else range(x.shape[0])):
                if mod.mode == "LSTM":
                    h, c = lstm_step(inp[t], h, c, wi, wh, bi, bh, p.get("weight_hr" + sfx))
                elif mod.mode == "GRU":
                    h = gru_step(inp[t], h, wi, wh, bi, bh)
                else:
                    pre = inp[t] @ wi.T + bi + h @ wh.T + bh
                    h = np.tanh(pre) if mod.mode == "RNN_TANH" else np.maximum(pre, 0)
                seq[t] = h
            outs.append(seq)
            hs.append(h)
            cs.append(c)
        inp = np.concatenate(outs, -1)
    return inp, np.stack(hs), (np.stack(cs) if c0 is not None else None)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_tanh", "RNN_relu"])
@pytest.mark.parametrize("layers,bidir,bias", [(1, False, True), (2, True, True), (2, False, False)])
def test_recurrent_matches_steps(kind, layers, bidir, bias):
    kw = dict(num_layers=layers, bidirectional=bidir, bias=bias)
    if kind.startswith("RNN"):
        mod = nn.RNN(3, 4, nonlinearity=kind[4:], **kw)
    else:
        mod = getattr(nn, kind)(3, 4, **kw)
    mod.double()
    x = rng.standard_normal((5, 2, 3))
    dirs = 2 if bidir else 1
    h0 = rng.standard_normal((layers * dirs, 2, 4))
    c0 = rng.standard_normal((layers * dirs, 2, 4)) if kind == "LSTM" else None
    hx = (t64(h0), t64(c0)) if kind == "LSTM" else t64(h0)
    out, state = mod(t64(x), hx)
    ref_out, ref_h, ref_c = run_ref(mod, x, h0, c0)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    h = state[0] if kind == "LSTM" else state
    np.testing.assert_allclose(h.detach().numpy(), ref_h, rtol=1e-10, atol=1e-12)
    if kind == "LSTM":
        np.testing.assert_allclose(state[1].detach().numpy(), ref_c, rtol=1e-10, atol=1e-12)


def test_a_parametrized_weight_is_used():
    # weight_norm on weight_hh_l0 moves it out of _parameters: the forward read None there and
    # failed ("_rnn_layer(): argument 'w_hh' must be Tensor, not NoneType")
    gru = nn.GRU(3, 4).double()
    v = rng.standard_normal((12, 4))
    with pt.no_grad():
        gru.weight_hh_l0.copy_(t64(v))
    nn.utils.parametrizations.weight_norm(gru, "weight_hh_l0")
    g = rng.uniform(0.5, 2.0, (12, 1))
    with pt.no_grad():
        gru.parametrizations.weight_hh_l0.original0.copy_(t64(g))
    plain = nn.GRU(3, 4).double()     # the reference reads plain NumPy weights: g * v / |v| per row
    with pt.no_grad():
        for name in ("weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(plain, name).copy_(getattr(gru, name))
        plain.weight_hh_l0.copy_(t64(g * v / np.linalg.norm(v, axis=1, keepdims=True)))
    x, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((1, 2, 4))
    out, h = gru(t64(x), t64(h0))
    ref_out, ref_h, _ = run_ref(plain, x, h0)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), ref_h, rtol=1e-10, atol=1e-12)
    # the gradient reaches the parametrization's magnitude: d sum(out) / d g[0] by central differences
    out.sum().backward()
    grad = gru.parametrizations.weight_hh_l0.original0.grad.numpy()[0, 0]
    sums = []
    for step in (1e-6, -1e-6):
        g2 = g.copy()
        g2[0, 0] += step
        with pt.no_grad():
            plain.weight_hh_l0.copy_(t64(g2 * v / np.linalg.norm(v, axis=1, keepdims=True)))
        sums.append(run_ref(plain, x, h0)[0].sum())
    np.testing.assert_allclose(grad, (sums[0] - sums[1]) / 2e-6, rtol=1e-6)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_an_empty_batch_runs(kind):
    # a batch of 0 sequences gives empty outputs and states (the fused layer op refused it)
    mod = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True)
    x = pt.zeros(5, 0, 3, requires_grad=True)
    out, state = mod(x)
    assert tuple(out.shape) == (5, 0, 8)
    for s in (state if kind == "LSTM" else (state,)):
        assert tuple(s.shape) == (4, 0, 4)
    out.sum().backward()
    assert tuple(x.grad.shape) == (5, 0, 3)
    np.testing.assert_array_equal(mod.weight_ih_l0.grad.numpy(), np.zeros(tuple(mod.weight_ih_l0.shape)))


@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
def test_lstm_with_a_projection_matches_steps(layers, bidir):
    mod = nn.LSTM(3, 5, num_layers=layers, bidirectional=bidir, proj_size=2).double()
    dirs = 2 if bidir else 1
    names = [n for n, _ in mod.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert tuple(mod.weight_hr_l0.shape) == (2, 5) and tuple(mod.weight_hh_l0.shape) == (20, 2)
    x = rng.standard_normal((4, 3, 3))
    h0, c0 = rng.standard_normal((layers * dirs, 3, 2)), rng.standard_normal((layers * dirs, 3, 5))
    out, (h, c) = mod(t64(x), (t64(h0), t64(c0)))
    ref_out, ref_h, ref_c = run_ref(mod, x, h0, c0)
    assert tuple(out.shape) == (4, 3, 2 * dirs) and tuple(h.shape) == (layers * dirs, 3, 2)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), ref_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), ref_c, rtol=1e-10, atol=1e-12)
    out0, (h_0, c_0) = mod(t64(x))      # default state: zeros of both sizes
    ref0, _, _ = run_ref(mod, x, np.zeros((layers * dirs, 3, 2)), np.zeros((layers * dirs, 3, 5)))
    np.testing.assert_allclose(out0.detach().numpy(), ref0, rtol=1e-10, atol=1e-12)
    small = nn.LSTM(2, 3, proj_size=1).double()
    scalar_gradcheck(lambda x: small(x)[0], t64(rng.standard_normal((3, 1, 2)), True))
    assert repr(mod) == ("LSTM(3, 5, proj_size=2)" if layers == 1 else
                         "LSTM(3, 5, proj_size=2, num_layers=2, bidirectional=True)")   # PyTorch's order


def test_lstm_projection_errors():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero to disable projections"):
        nn.LSTM(3, 4, proj_size=-1)
    for cls in (nn.GRU, nn.RNN):   # they take proj_size only to refuse it, as PyTorch's do
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
            cls(3, 4, proj_size=2)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 2, 2\]"):
        nn.LSTM(3, 4, proj_size=2)(pt.randn(5, 2, 3), (pt.zeros(1, 2, 2), pt.zeros(1, 2, 2)))


def test_batch_first_unbatched_default_state_and_init():
    lstm = nn.LSTM(3, 5, batch_first=True).double()
    bound = 1 / math.sqrt(5)
    for p in lstm.parameters():
        assert np.abs(p.detach().numpy()).max() <= bound
    assert [n for n, _ in lstm.named_parameters()] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert tuple(lstm.weight_ih_l0.shape) == (20, 3)
    x = rng.standard_normal((2, 4, 3))
    out, (h, c) = lstm(t64(x))
    ref, rh, rc = run_ref(lstm, x.transpose(1, 0, 2), np.zeros((1, 2, 5)), np.zeros((1, 2, 5)))
    np.testing.assert_allclose(out.detach().numpy(), ref.transpose(1, 0, 2), rtol=1e-10)
    out1, (h1, _) = lstm(t64(x[0]))
    np.testing.assert_allclose(out1.detach().numpy(), ref[:, 0], rtol=1e-10)
    assert tuple(h1.shape) == (1, 5)


def test_dropout_between_layers_only_in_training():
    gru = nn.GRU(3, 4, num_layers=2, dropout=0.5).double()
    x = t64(rng.standard_normal((3, 2, 3)))
    gru.eval()
    a = gru(x)[0].detach().numpy()
    np.testing.assert_allclose(gru(x)[0].detach().numpy(), a)
    ref, _, _ = run_ref(gru, x.numpy(), np.zeros((2, 2, 4)))
    np.testing.assert_allclose(a, ref, rtol=1e-10)
    gru.train()
    assert not np.allclose(gru(x)[0].detach().numpy(), a)


def test_rnn_gradcheck():
    lstm = nn.LSTM(2, 2).double()
    x = t64(rng.standard_normal((3, 1, 2)), True)
    scalar_gradcheck(lambda x: lstm(x)[0], x)
    from plugtorch.nn.modules.rnn import gru_cell, lstm_cell
    xw, h, c = (t64(rng.standard_normal((2, 8)), True), t64(rng.standard_normal((2, 2)), True),
                t64(rng.standard_normal((2, 2)), True))
    wh, bh = t64(rng.standard_normal((8, 2)), True), t64(rng.standard_normal(8), True)
    scalar_gradcheck(lambda xw, h, c, wh: lstm_cell(xw, (h, c), wh.t(), None), xw, h, c, wh)
    scalar_gradcheck(lambda xw, h, wh, bh: gru_cell(xw[:, :6], h, wh[:6].t(), bh[:6]), xw, h, wh, bh)
    gru = nn.GRU(2, 2, bidirectional=True).double()
    scalar_gradcheck(lambda x: gru(x)[0], x)


def test_rnn_errors():
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 5"):
        nn.LSTM(3, 4)(pt.randn(2, 1, 5))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D input instead"):
        nn.LSTM(3, 4)(pt.randn(2, 1, 1, 3))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 1, 4\), got \[2, 1, 4\]"):
        nn.GRU(3, 4)(pt.randn(2, 1, 3), pt.zeros(2, 1, 4))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    # an input of another dtype than the weights': PyTorch's ValueError naming both dtypes (it was a
    # RuntimeError from linear naming neither the module nor the fix)
    with pytest.raises(ValueError, match=r"GRU input dtype \(plugtorch.float64\) does not match weight dtype "
                                         r"\(plugtorch.float32\)\. Convert input: input.to\(plugtorch.float32\)"):
        nn.GRU(3, 4)(pt.randn(2, 1, 3, dtype=pt.float64))
    with pytest.raises(ValueError, match=r"LSTM input dtype \(plugtorch.int64\) does not match"):
        nn.LSTM(3, 4)(pt.ones(2, 3, dtype=pt.int64))
    assert repr(nn.GRU(3, 4, num_layers=2, batch_first=True)) == "GRU(3, 4, num_layers=2, batch_first=True)"


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "RNNCell_tanh", "RNNCell_relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_one_numpy_step(kind, bias):
    cls, _, nl = kind.partition("_")
    mod = (nn.RNNCell(3, 4, bias=bias, nonlinearity=nl) if nl else getattr(nn, cls)(3, 4, bias=bias)).double()
    chunks = {"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}[cls]
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
    assert [(n, tuple(p.shape)) for n, p in mod.named_parameters()] == \
        [(n, (chunks * 4, 3) if n == "weight_ih" else (chunks * 4, 4) if n == "weight_hh" else (chunks * 4,))
         for n in names]
    bound = 1 / math.sqrt(4)
    assert all(np.abs(p.detach().numpy()).max() <= bound for p in mod.parameters())
    p = {k: v.detach().numpy() for k, v in mod.named_parameters()}
    wi, wh, bi, bh = p["weight_ih"], p["weight_hh"], p.get("bias_ih", 0.0), p.get("bias_hh", 0.0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))

    def ref(x, h, c):
        if cls == "LSTMCell":
            return lstm_step(x, h, c, wi, wh, bi, bh)
        if cls == "GRUCell":
            return gru_step(x, h, wi, wh, bi, bh)
        pre = x @ wi.T + bi + h @ wh.T + bh
        return np.tanh(pre) if nl == "tanh" else np.maximum(pre, 0)

    def run(x, h, c):
        out = mod(t64(x), None if h is None else ((t64(h), t64(c)) if cls == "LSTMCell" else t64(h)))
        return tuple(o.detach().numpy() for o in out) if cls == "LSTMCell" else out.detach().numpy()

    for args in ((x, h, c), (x, None, None), (x[0], h[0], c[0])):   # batched, default zeros, unbatched
        want = ref(args[0], *(np.zeros_like(h[..., :4]) if a is None else a for a in args[1:]))
        got = run(*args)
        for g, w in zip(got, want) if cls == "LSTMCell" else ((got, want),):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_cells_gradcheck_state_dict_and_repr():
    xs = t64(rng.standard_normal((2, 2)), True)
    hs, cs = t64(rng.standard_normal((2, 3)), True), t64(rng.standard_normal((2, 3)), True)
    lstm, gru, rnn = nn.LSTMCell(2, 3).double(), nn.GRUCell(2, 3).double(), nn.RNNCell(2, 3).double()
    scalar_gradcheck(lambda x, h, c: lstm(x, (h, c)), xs, hs, cs)
    scalar_gradcheck(lambda x, h: gru(x, h), xs, hs)
    scalar_gradcheck(lambda x, h: rnn(x, h), xs, hs)
    # a PyTorch-shaped state dict (the same keys and shapes) loads into the cell
    sd = {"weight_ih": t64(rng.standard_normal((12, 2))), "weight_hh": t64(rng.standard_normal((12, 3))),
          "bias_ih": t64(rng.standard_normal(12)), "bias_hh": t64(rng.standard_normal(12))}
    lstm.load_state_dict(sd)
    np.testing.assert_array_equal(lstm.weight_hh.detach().numpy(), sd["weight_hh"].numpy())
    assert repr(nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == "RNNCell(3, 4, bias=False, nonlinearity=relu)"
    assert repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)" and repr(nn.GRUCell(3, 4)) == "GRUCell(3, 4)"
    assert isinstance(gru, nn.RNNCellBase)


def test_cell_errors():
    with pytest.raises(ValueError, match="RNNCell: Expected input to be 1D or 2D, got 3D instead"):
        nn.RNNCell(3, 4)(pt.randn(2, 2, 3))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 3"):
        nn.GRUCell(3, 4)(pt.randn(2, 5))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        nn.RNNCell(3, 4)(pt.randn(2, 3), pt.randn(3, 4))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 5, expected 4"):
        nn.LSTMCell(3, 4)(pt.randn(2, 3), (pt.randn(2, 4), pt.randn(2, 5)))
    with pytest.raises(ValueError, match=r"LSTMCell: Expected hx\[0\] to be 1D like the input"):
        nn.LSTMCell(3, 4)(pt.randn(3), (pt.randn(1, 4), pt.randn(4)))
    with pytest.raises(TypeError, match=r"LSTMCell: expected hx to be a tuple \(h_0, c_0\)"):
        nn.LSTMCell(3, 4)(pt.randn(2, 3), pt.randn(2, 4))
    with pytest.raises(ValueError, match="Unknown nonlinearity: sigmoid. Select from 'tanh' or 'relu'."):
        nn.RNNCell(3, 4, nonlinearity="sigmoid")


def make_rnn(kind, **kw):
    return (nn.RNN(3, 4, nonlinearity=kind[4:], **kw) if kind.startswith("RNN") else getattr(nn, kind)(3, 4, **kw))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_tanh"])
@pytest.mark.parametrize("layers,bidir,batch_first", [(1, False, False), (2, True, True)])
def test_packed_input_matches_each_sequence_alone(kind, layers, bidir, batch_first):
    """Output rows and h_n/c_n of a packed, unsorted batch equal the NumPy recurrence run on each
    sequence's own steps from its own h0 (given in the caller's order)."""
    from plugtorch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
    mod = make_rnn(kind, num_layers=layers, bidirectional=bidir, batch_first=batch_first).double()
    lengths, dirs = [3, 5, 1, 3], 2 if bidir else 1
    x = rng.standard_normal((5, 4, 3))
    h0, c0 = rng.standard_normal((layers * dirs, 4, 4)), rng.standard_normal((layers * dirs, 4, 4))
    xin = t64(x.transpose(1, 0, 2) if batch_first else x)
    packed = pack_padded_sequence(xin, lengths, batch_first=batch_first, enforce_sorted=False)
    out, state = mod(packed, (t64(h0), t64(c0)) if kind == "LSTM" else t64(h0))
    assert isinstance(out, PackedSequence) and out.batch_sizes is packed.batch_sizes
    assert out.sorted_indices is packed.sorted_indices and tuple(out.data.shape) == (12, 4 * dirs)
    padded, lens = pad_packed_sequence(out)
    h, c = state if kind == "LSTM" else (state, None)
    for b, n in enumerate(lengths):
        ref_out, ref_h, ref_c = run_ref(mod, x[:n, b:b + 1], h0[:, b:b + 1], c0[:, b:b + 1] if c is not None else None)
        np.testing.assert_allclose(padded.detach().numpy()[:n, b], ref_out[:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(padded.detach().numpy()[n:, b], 0)
        np.testing.assert_allclose(h.detach().numpy()[:, b], ref_h[:, 0], rtol=1e-10, atol=1e-12)
        if c is not None:
            np.testing.assert_allclose(c.detach().numpy()[:, b], ref_c[:, 0], rtol=1e-10, atol=1e-12)


def test_packed_sorted_batch_default_state_and_projection():
    from plugtorch.nn.utils.rnn import pack_sequence, pad_packed_sequence
    lstm = nn.LSTM(3, 5, proj_size=2, bidirectional=True).double()
    seqs = [rng.standard_normal((n, 3)) for n in (4, 2, 2)]
    out, (h, c) = lstm(pack_sequence([t64(s) for s in seqs]))
    assert out.sorted_indices is None and tuple(h.shape) == (2, 3, 2) and tuple(c.shape) == (2, 3, 5)
    padded, _ = pad_packed_sequence(out, batch_first=True)
    for b, s in enumerate(seqs):
        ref_out, ref_h, ref_c = run_ref(lstm, s[:, None], np.zeros((2, 1, 2)), np.zeros((2, 1, 5)))
        np.testing.assert_allclose(padded.detach().numpy()[b, :len(s)], ref_out[:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(h.detach().numpy()[:, b], ref_h[:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(c.detach().numpy()[:, b], ref_c[:, 0], rtol=1e-10, atol=1e-12)


def test_packed_gradients():
    """Finite differences through pack -> LSTM -> pad (input and h0/c0), and weight gradients equal
    to the sum of the dense layer's gradients over the sequences run one at a time."""
    from plugtorch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    lstm = nn.LSTM(2, 2, bidirectional=True).double()
    x = t64(rng.standard_normal((3, 3, 2)), True)
    h0, c0 = t64(rng.standard_normal((2, 3, 2)), True), t64(rng.standard_normal((2, 3, 2)), True)

    def run(x, h0, c0):
        out, (h, c) = lstm(pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False), (h0, c0))
        return pad_packed_sequence(out)[0], h, c
    scalar_gradcheck(run, x, h0, c0)
    gru = nn.GRU(2, 3, num_layers=2).double()
    lengths = [2, 3, 1]
    out, h = gru(pack_padded_sequence(x, lengths, enforce_sorted=False))
    (out.data.sum() + (h * h).sum()).backward()
    want = {n: np.zeros(tuple(p.shape)) for n, p in gru.named_parameters()}
    got = {n: p.grad.numpy().copy() for n, p in gru.named_parameters()}
    for b, n in enumerate(lengths):
        gru.zero_grad()
        o, hb = gru(x.detach()[:n, b:b + 1])
        (o.sum() + (hb * hb).sum()).backward()
        for name, p in gru.named_parameters():
            want[name] += p.grad.numpy()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_packed_errors():
    from plugtorch.nn.utils.rnn import PackedSequence, pack_sequence
    packed = pack_sequence([pt.randn(3, 3), pt.randn(2, 3)])
    with pytest.raises(RuntimeError, match="input must have 2 dimensions, got 3"):
        nn.GRU(3, 4)(PackedSequence(pt.randn(5, 3, 1), packed.batch_sizes))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 2, got 3"):
        nn.LSTM(2, 4)(packed)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 3, 4\]"):
        nn.RNN(3, 4)(packed, pt.zeros(1, 3, 4))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(2, 2, 4\), got \[2, 1, 4\]"):
        nn.LSTM(3, 4, bidirectional=True)(packed, (pt.zeros(2, 2, 4), pt.zeros(2, 1, 4)))


@pytest.mark.skipif("opencl" not in pt.backends.available(), reason="no opencl backend")
def test_packed_on_opencl_matches_cpu():
    import copy

    from plugtorch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    dev = copy.deepcopy(lstm).to("opencl")
    x = pt.randn(4, 3, 3)
    h0 = pt.randn(4, 3, 4)
    results = []
    for mod, device in ((lstm, "cpu"), (dev, "opencl")):
        xd = x.detach().to(device).requires_grad_()
        out, (h, c) = mod(pack_padded_sequence(xd, [2, 4, 1], enforce_sorted=False), (h0.to(device), h0.to(device)))
        assert out.data.device.type == h.device.type == device
        padded = pad_packed_sequence(out)[0]
        (padded.sum() + h.sum() + c.sum()).backward()
        results.append([padded, h, c, xd.grad] + [p.grad for p in mod.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(b.detach().cpu().numpy(), a.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_flatten_parameters_and_all_weights():
    # PyTorch code calls lstm.flatten_parameters() and reads all_weights; both must work here too
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    x = pt.ones(5, 1, 3)
    before = m(x)[0].detach().numpy()
    assert m.flatten_parameters() is None
    np.testing.assert_array_equal(m(x)[0].detach().numpy(), before)
    assert m._all_weights[1] == ["weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                 "bias_hh_l0_reverse", "weight_hr_l0_reverse"]
    assert [tuple(w.shape) for w in m.all_weights[2]] == [(16, 4), (16, 2), (16,), (16,), (2, 4)]
    assert m.all_weights[3][0] is m.weight_ih_l1_reverse and len(m._flat_weights) == 20
    g = nn.GRU(3, 4, bias=False)
    assert g._all_weights == [["weight_ih_l0", "weight_hh_l0"]] and g._flat_weights[1] is g.weight_hh_l0


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_forward_makes_no_transposed_weight_copy(kind):
    # the fused _rnn_layer takes weight_hh as it is: the forward makes no w_hh.t().contiguous()
    # (which only the op-by-op cell loop uses) and stacks h_n with one cat; values as the NumPy loop's
    from plugtorch.dispatch.dispatcher import DispatchMode

    class Names(DispatchMode):
        def __init__(self):
            self.names = []

        def __plugtorch_dispatch__(self, op, args, kwargs, call):
            self.names.append(op.name)
            return call(args, kwargs)

    mod = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True).double()
    x = rng.standard_normal((5, 2, 3))
    h0 = rng.standard_normal((4, 2, 4))
    c0 = rng.standard_normal((4, 2, 4)) if kind == "LSTM" else None
    with Names() as seen:
        out, state = mod(t64(x), (t64(h0), t64(c0)) if kind == "LSTM" else t64(h0))
    assert seen.names.count("_rnn_layer") == 4
    assert not {"t", "transpose", "contiguous", "clone", "stack"} & set(seen.names), seen.names
    ref_out, ref_h, ref_c = run_ref(mod, x, h0, c0)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    h = state[0] if kind == "LSTM" else state
    np.testing.assert_allclose(h.detach().numpy(), ref_h, rtol=1e-10, atol=1e-12)
    if kind == "LSTM":
        np.testing.assert_allclose(state[1].detach().numpy(), ref_c, rtol=1e-10, atol=1e-12)
