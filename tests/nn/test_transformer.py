"""MultiheadAttention and TransformerEncoder(Layer) vs the formulas in NumPy."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(9)


def softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def mha_ref(mod, q, k, v, attn_mask=None, kpm=None):
    """Sequence-first (L, N, E) multi-head attention written out with per-head loops."""
    p = {n: t.detach().numpy() for n, t in mod.named_parameters()}
    E, H = mod.embed_dim, mod.num_heads
    hd = E // H
    if "in_proj_weight" in p:
        wq, wk, wv = np.split(p["in_proj_weight"], 3)
    else:
        wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    bq, bk, bv = np.split(p["in_proj_bias"], 3)
    Q, K, V = q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv
    L, N, _ = q.shape
    S = k.shape[0]
    out = np.zeros((L, N, E))
    weights = np.zeros((N, H, L, S))
    for n in range(N):
        for h in range(H):
            sl = slice(h * hd, (h + 1) * hd)
            s = Q[:, n, sl] @ K[:, n, sl].T / math.sqrt(hd)
            if attn_mask is not None:
                s = np.where(attn_mask, -np.inf, s) if attn_mask.dtype == bool else s + attn_mask
            if kpm is not None:
                s = np.where(kpm[n][None, :], -np.inf, s)
            a = softmax(s)
            weights[n, h] = a
            out[:, n, sl] = a @ V[:, n, sl]
    return out @ p["out_proj.weight"].T + p["out_proj.bias"], weights


def test_mha_matches_formula_with_masks():
    mha = nn.MultiheadAttention(8, 2).double()
    with pt.no_grad():
        mha.in_proj_bias.copy_(t64(rng.standard_normal(24)))
        mha.out_proj.bias.copy_(t64(rng.standard_normal(8)))
    q, k = rng.standard_normal((4, 3, 8)), rng.standard_normal((5, 3, 8))
    v = rng.standard_normal((5, 3, 8))
    out, w = mha(t64(q), t64(k), t64(v))
    ref, rw = mha_ref(mha, q, k, v)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), rw.mean(1), rtol=1e-10)
    am = rng.random((4, 5)) > 0.7
    am[:, 0] = False
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, 3:] = True
    out, w = mha(t64(q), t64(k), t64(v), key_padding_mask=pt.tensor(kpm), attn_mask=pt.tensor(am),
                 average_attn_weights=False)
    ref, rw = mha_ref(mha, q, k, v, am, kpm)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), rw, rtol=1e-10, atol=1e-14)
    fm = rng.standard_normal((4, 5))
    out, _ = mha(t64(q), t64(k), t64(v), attn_mask=t64(fm))
    np.testing.assert_allclose(out.detach().numpy(), mha_ref(mha, q, k, v, fm)[0], rtol=1e-10, atol=1e-12)


def test_mha_batch_first_kdim_and_init():
    mha = nn.MultiheadAttention(6, 3, kdim=4, vdim=5, batch_first=True).double()
    assert mha.in_proj_weight is None and tuple(mha.k_proj_weight.shape) == (6, 4)
    assert np.all(mha.in_proj_bias.detach().numpy() == 0) and np.all(mha.out_proj.bias.detach().numpy() == 0)
    q, k, v = rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 4, 4)), rng.standard_normal((2, 4, 5))
    out, w = mha(t64(q), t64(k), t64(v), need_weights=False)
    assert w is None
    ref, _ = mha_ref(mha, q.transpose(1, 0, 2), k.transpose(1, 0, 2), v.transpose(1, 0, 2))
    np.testing.assert_allclose(out.detach().numpy(), ref.transpose(1, 0, 2), rtol=1e-10)
    sq = nn.MultiheadAttention(16, 4)
    bound = math.sqrt(6 / (16 + 48))          # xavier_uniform on the (3E, E) in_proj_weight
    assert np.abs(sq.in_proj_weight.detach().numpy()).max() <= bound
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    mha.eval()
    scalar_gradcheck(lambda q: mha(q, t64(k), t64(v))[0], t64(q[:, :2], True))


def layer_ref(layer, x, norm_first):
    """Post-norm (or pre-norm) encoder layer in eval mode, sequence-first (S, N, E)."""
    p = {n: t.detach().numpy() for n, t in layer.named_parameters()}

    def ln(z, w, b):
        return (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5) * w + b

    def sa(z):
        return mha_ref(layer.self_attn, z, z, z)[0]

    def ff(z):
        return np.maximum(z @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]
    n1 = lambda z: ln(z, p["norm1.weight"], p["norm1.bias"])  # noqa: E731
    n2 = lambda z: ln(z, p["norm2.weight"], p["norm2.bias"])  # noqa: E731
    if norm_first:
        x = x + sa(n1(x))
        return x + ff(n2(x))
    x = n1(x + sa(x))
    return n2(x + ff(x))


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_and_stack(norm_first):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, norm_first=norm_first).double().eval()
    x = rng.standard_normal((5, 2, 8))
    np.testing.assert_allclose(layer(t64(x)).detach().numpy(), layer_ref(layer, x, norm_first), rtol=1e-9, atol=1e-10)
    enc = nn.TransformerEncoder(layer, 2).double().eval()
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    assert len(list(enc.parameters())) == 2 * len(list(layer.parameters()))
    ref = layer_ref(enc.layers[1], layer_ref(enc.layers[0], x, norm_first), norm_first)
    np.testing.assert_allclose(enc(t64(x)).detach().numpy(), ref, rtol=1e-9, atol=1e-10)


def test_encoder_masks_and_batch_first():
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, batch_first=True, dropout=0.0).double()
    x = t64(rng.standard_normal((2, 3, 4)))
    kpm = pt.tensor([[False, False, True], [False, False, False]])
    out = layer(x, src_key_padding_mask=kpm)
    # a padded key does not influence the others: changing it leaves positions 0, 1 of batch 0 unchanged
    x2 = x.clone()
    x2[0, 2] = 100.0
    out2 = layer(x2, src_key_padding_mask=kpm)
    np.testing.assert_allclose(out[0, :2].detach().numpy(), out2[0, :2].detach().numpy(), rtol=1e-10)
    causal = layer(x, is_causal=True)
    x3 = x.clone()
    x3[:, 2] = -5.0
    np.testing.assert_allclose(causal[:, :2].detach().numpy(), layer(x3, is_causal=True)[:, :2].detach().numpy(),
                               rtol=1e-10)


def test_encoder_layer_gradcheck():
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, activation="gelu").double()
    scalar_gradcheck(layer, t64(rng.standard_normal((3, 1, 4)), True))


def test_mha_input_errors():
    mha = nn.MultiheadAttention(8, 2)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 6"):
        mha(pt.randn(3, 2, 6), pt.randn(3, 2, 6), pt.randn(3, 2, 6))
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D tensor"):
        mha(pt.randn(8), pt.randn(8), pt.randn(8))
    # a key_padding_mask of the wrong shape is refused by name (it was a RuntimeError from reshape)
    q = pt.randn(3, 2, 8)
    with pytest.raises(AssertionError, match=r"expecting key_padding_mask shape of \(2, 3\).*got \(3, 3\)"):
        mha(q, q, q, key_padding_mask=pt.zeros(3, 3, dtype=pt.bool))
    with pytest.raises(AssertionError, match=r"expecting key_padding_mask shape of \(2, 3\).*got \(1, 3\)"):
        mha(q, q, q, key_padding_mask=pt.zeros(1, 3, dtype=pt.bool))
    with pytest.raises(AssertionError, match=r"expecting key_padding_mask shape of \(1, 3\).*got \(1, 2\)"):
        mha(q[:, 0], q[:, 0], q[:, 0], key_padding_mask=pt.zeros(2, dtype=pt.bool))
    # so is an attn_mask that is not (L, S) or (N * heads, L, S): a (1, S) row mask used to broadcast
    # over every query position without a word
    with pytest.raises(RuntimeError, match=r"shape of the 2D attn_mask is \(1, 3\), but should be \(3, 3\)"):
        mha(q, q, q, attn_mask=pt.zeros(1, 3, dtype=pt.bool))
    with pytest.raises(RuntimeError, match=r"shape of the 3D attn_mask is \(1, 3, 3\), but should be \(4, 3, 3\)"):
        mha(q, q, q, attn_mask=pt.zeros(1, 3, 3))
    with pytest.raises(RuntimeError, match="attn_mask's dimension 4 is not supported"):
        mha(q, q, q, attn_mask=pt.zeros(2, 2, 3, 3))
    k = pt.randn(5, 2, 8)   # S = 5; bias_kv / zero_attn padding comes after the check
    out, w = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True)(q, k, k, attn_mask=pt.zeros(3, 5))
    assert tuple(w.shape) == (2, 3, 7)


def test_mha_sample_with_every_key_padded():
    # as PyTorch: without weights the attention runs as scaled_dot_product_attention, whose fully
    # masked rows are 0 (so the output is out_proj's bias); with weights a plain softmax gives nan
    mha = nn.MultiheadAttention(4, 2).double()
    q = t64(rng.standard_normal((3, 2, 4)), True)
    kpm = pt.tensor([[True] * 3, [False, True, False]])
    out, w = mha(q, q, q, key_padding_mask=kpm, need_weights=False)
    assert w is None
    bias = mha.out_proj.bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy()[:, 0], np.broadcast_to(bias, (3, 4)), rtol=1e-12)
    ref, _ = mha_ref(mha, q.detach().numpy()[:, 1:], q.detach().numpy()[:, 1:], q.detach().numpy()[:, 1:],
                     kpm=kpm.numpy()[1:])
    np.testing.assert_allclose(out.detach().numpy()[:, 1:], ref, rtol=1e-10)
    out.sum().backward()
    assert np.isfinite(q.grad.numpy()).all()
    out, w = mha(q, q, q, key_padding_mask=kpm, need_weights=True)
    assert np.isnan(w.detach().numpy()[0]).all() and np.isfinite(w.detach().numpy()[1]).all()


def test_mha_bias_kv_and_zero_attn():
    mha = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True).double()
    assert tuple(mha.bias_k.shape) == (1, 1, 4) and "bias_v" in dict(mha.named_parameters())
    q, k = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 2, 4))
    out, w = mha(t64(q), t64(k), t64(k))
    assert tuple(out.shape) == (3, 2, 4) and tuple(w.shape) == (2, 3, 7)
    np.testing.assert_allclose(w.detach().numpy().sum(-1), 1.0, rtol=1e-12)
    # the zero key scores 0: its weight is exp(0) / sum over the row, for every head
    plain = nn.MultiheadAttention(4, 2, add_zero_attn=True).double()
    _, w = plain(t64(q), t64(k), t64(k), average_attn_weights=False)
    p = {n: t.detach().numpy() for n, t in plain.named_parameters()}
    Q = q @ np.split(p["in_proj_weight"], 3)[0].T
    K = k @ np.split(p["in_proj_weight"], 3)[1].T
    s = np.einsum("lnd,snd->nls", Q[:, :, :2], K[:, :, :2]) / np.sqrt(2)
    e = np.exp(s)
    np.testing.assert_allclose(w.detach().numpy()[:, 0, :, 5], 1 / (e.sum(-1) + 1), rtol=1e-10)


def decoder_layer_ref(layer, x, mem, tgt_mask=None, mem_kpm=None, norm_first=False):
    """Decoder layer in eval mode, sequence-first: self-attention, cross-attention, feed-forward."""
    p = {n: t.detach().numpy() for n, t in layer.named_parameters()}

    def ln(z, k):
        return ((z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5) * p[f"norm{k}.weight"]
                + p[f"norm{k}.bias"])

    def sa(z):
        return mha_ref(layer.self_attn, z, z, z, tgt_mask)[0]

    def ca(z):
        return mha_ref(layer.multihead_attn, z, mem, mem, None, mem_kpm)[0]

    def ff(z):
        return np.maximum(z @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]
    if norm_first:
        x = x + sa(ln(x, 1))
        x = x + ca(ln(x, 2))
        return x + ff(ln(x, 3))
    x = ln(x + sa(x), 1)
    x = ln(x + ca(x), 2)
    return ln(x + ff(x), 3)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_formula_with_masks(norm_first):
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, norm_first=norm_first).double().eval()
    x, mem = rng.standard_normal((4, 2, 8)), rng.standard_normal((5, 2, 8))
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=pt.float64)
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 3:] = True
    out = layer(t64(x), t64(mem), tgt_mask=causal, memory_key_padding_mask=pt.tensor(kpm))
    ref = decoder_layer_ref(layer, x, mem, causal.numpy(), kpm, norm_first)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-9, atol=1e-10)
    # is_causal without a mask is the same causal self-attention
    np.testing.assert_allclose(layer(t64(x), t64(mem), tgt_is_causal=True, memory_key_padding_mask=pt.tensor(kpm))
                               .detach().numpy(), ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(layer(t64(x[:, 0]), t64(mem[:, 0])).detach().numpy(),      # unbatched
                               decoder_layer_ref(layer, x[:, :1], mem[:, :1], norm_first=norm_first)[:, 0],
                               rtol=1e-9, atol=1e-10)


def test_transformer_stack_state_dict_and_mask():
    model = nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=12,
                           batch_first=True).double().eval()
    keys = list(model.state_dict())
    assert keys[:4] == ["encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.self_attn.in_proj_bias",
                        "encoder.layers.0.self_attn.out_proj.weight", "encoder.layers.0.self_attn.out_proj.bias"]
    assert "decoder.layers.0.multihead_attn.in_proj_weight" in keys and "decoder.layers.0.norm3.bias" in keys
    assert keys[-2:] == ["decoder.norm.weight", "decoder.norm.bias"] and len(keys) == 2 * 12 + 2 + 18 + 2
    w = model.decoder.layers[0].linear1.weight.detach().numpy()          # xavier_uniform on the matrices
    assert np.abs(w).max() <= math.sqrt(6 / (8 + 12)) and model.encoder.layers[0].linear1.bias is not None
    src, tgt = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 3, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=pt.float64)
    np.testing.assert_array_equal(mask.numpy(), np.triu(np.full((3, 3), -np.inf), 1))
    out = model(t64(src), t64(tgt), tgt_mask=mask)
    assert tuple(out.shape) == (2, 3, 8)

    def ln(z, m):
        return (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5) * \
            m.weight.detach().numpy() + m.bias.detach().numpy()
    s, t = src.transpose(1, 0, 2), tgt.transpose(1, 0, 2)
    mem = ln(layer_ref(model.encoder.layers[1], layer_ref(model.encoder.layers[0], s, False), False),
             model.encoder.norm)
    ref = ln(decoder_layer_ref(model.decoder.layers[0], t, mem, mask.numpy()), model.decoder.norm)
    np.testing.assert_allclose(out.detach().numpy(), ref.transpose(1, 0, 2), rtol=1e-9, atol=1e-10)
    # the causal mask applies (tgt_is_causal=None): a later target position changes no earlier output
    t2 = tgt.copy()
    t2[:, 2] = 50.0
    np.testing.assert_allclose(model(t64(src), t64(t2), tgt_mask=mask)[:, :2].detach().numpy(),
                               out[:, :2].detach().numpy(), rtol=1e-9)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation="gelu"), 2).double()
    assert dec.layers[0].linear1.weight is not dec.layers[1].linear1.weight and dec.norm is None
    scalar_gradcheck(lambda x, m: dec(x, m, tgt_is_causal=True), t64(rng.standard_normal((3, 1, 4)), True),
                     t64(rng.standard_normal((2, 1, 4)), True))


def test_transformer_errors():
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(pt.randn(3, 2, 8), pt.randn(3, 4, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(pt.randn(3, 2, 8), pt.randn(3, 2, 6))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")
    assert tuple(model(pt.randn(3, 8), pt.randn(4, 8)).shape) == (4, 8)      # unbatched
