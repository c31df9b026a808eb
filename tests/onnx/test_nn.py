"""nn layers exported to ONNX equal plugtorch eager under onnxruntime (1e-4)."""
import pytest

import plugtorch as pt
from plugtorch import nn
from tests.onnx.conftest import check_export, op_types


def randn(*shape):
    return pt.randn(*shape)


@pytest.fixture(autouse=True)
def _seed():
    pt.manual_seed(0)


LAYERS = {
    "linear": (lambda: nn.Linear(4, 3), (2, 4)),
    "linear_3d": (lambda: nn.Linear(4, 3), (2, 5, 4)),
    "linear_nobias": (lambda: nn.Linear(4, 3, bias=False), (2, 5, 4)),
    "mlp": (lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2)), (3, 4)),
    "bilinear": (lambda: nn.Bilinear(3, 4, 2), None),
    "conv1d": (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    "conv1d_same": (lambda: nn.Conv1d(3, 4, 4, padding="same", dilation=2), (2, 3, 9)),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5)),
    "conv2d_groups": (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
                      (2, 4, 7, 6)),
    "conv2d_same": (lambda: nn.Conv2d(3, 2, (4, 3), padding="same"), (1, 3, 6, 6)),
    "conv2d_unbatched": (lambda: nn.Conv2d(3, 4, 3), (3, 6, 6)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 5, 4)),
    "conv_transpose2d_groups": (lambda: nn.ConvTranspose2d(4, 6, (2, 3), stride=(1, 2), groups=2, dilation=2),
                                (2, 4, 5, 5)),
    "batchnorm2d": (lambda: _trained_bn(nn.BatchNorm2d(3), (4, 3, 5, 5)), (2, 3, 5, 5)),
    "batchnorm1d": (lambda: _trained_bn(nn.BatchNorm1d(3), (8, 3)), (4, 3)),
    "batchnorm_noaffine": (lambda: _trained_bn(nn.BatchNorm2d(3, affine=False), (4, 3, 5, 5)), (2, 3, 5, 5)),
    "batchnorm_nostats": (lambda: nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 5, 5)),
    "layernorm": (lambda: nn.LayerNorm(5), (2, 3, 5)),
    "layernorm_2d": (lambda: nn.LayerNorm((3, 5), elementwise_affine=False), (2, 3, 5)),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 5)),
    "groupnorm_2d": (lambda: nn.GroupNorm(3, 6, affine=False), (2, 6, 3, 4)),
    "instancenorm": (lambda: nn.InstanceNorm2d(3), (2, 3, 4, 4)),
    "maxpool2d": (lambda: nn.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool2d_strided": (lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=1), (2, 3, 7, 6)),
    "maxpool2d_ceil": (lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 3, 7, 7)),
    "maxpool1d": (lambda: nn.MaxPool1d(3, stride=2), (2, 3, 9)),
    "avgpool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    "avgpool2d_nopad": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 7, 7)),
    "avgpool2d_ceil": (lambda: nn.AvgPool2d(2, ceil_mode=True), (2, 3, 5, 5)),
    "avgpool1d": (lambda: nn.AvgPool1d(2), (2, 3, 6)),
    "adaptive_avg2d": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 7, 5)),
    "adaptive_avg2d_global": (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 4, 4)),
    "adaptive_avg1d": (lambda: nn.AdaptiveAvgPool1d(3), (2, 3, 7)),
    "adaptive_max2d": (lambda: nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 6, 5)),
    "dropout_eval": (lambda: nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.AlphaDropout(0.2)), (2, 3)),
    "dropout2d_eval": (lambda: nn.Dropout2d(0.3), (2, 3, 4, 4)),
    "flatten_unflatten": (lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (2, 6))), (2, 3, 4)),
    "upsample_nearest": (lambda: nn.Upsample(scale_factor=2), (1, 2, 3, 3)),
    "upsample_bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 3)),
    "identity": (lambda: nn.Identity(), (2, 3)),
}


def _trained_bn(bn, shape):
    """A BatchNorm with running stats away from 0/1 (a few training-mode steps)."""
    bn.train()
    with pt.no_grad():
        for _ in range(3):
            bn(pt.randn(*shape) * 2 + 1)
    return bn.eval()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer(name):
    make, shape = LAYERS[name]
    m = make()
    if name == "bilinear":
        args = (randn(2, 3), randn(2, 4))
    else:
        args = (randn(*shape),)
    check_export(m, args)


def test_single_operators_where_onnx_has_them():
    assert "Conv" in op_types(check_export(nn.Conv2d(3, 4, 3), (randn(1, 3, 5, 5),)))
    assert "ConvTranspose" in op_types(check_export(nn.ConvTranspose2d(3, 4, 3), (randn(1, 3, 5, 5),)))
    assert "BatchNormalization" in op_types(check_export(_trained_bn(nn.BatchNorm2d(3), (4, 3, 2, 2)),
                                                         (randn(1, 3, 5, 5),)))
    assert "LayerNormalization" in op_types(check_export(nn.LayerNorm(5), (randn(2, 5),)))
    assert "MaxPool" in op_types(check_export(nn.MaxPool2d(2), (randn(1, 1, 4, 4),)))
    assert "AveragePool" in op_types(check_export(nn.AvgPool2d(2), (randn(1, 1, 4, 4),)))
    assert "Gemm" in op_types(check_export(nn.Linear(3, 2), (randn(4, 3),)))
    assert "Gather" in op_types(check_export(nn.Embedding(5, 2), (pt.tensor([1, 4]),)))


ACTIVATIONS = [nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.1), nn.PReLU(), nn.PReLU(4), nn.ELU(0.7), nn.CELU(1.3),
               nn.SELU(), nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.Mish(), nn.Softplus(beta=2, threshold=5),
               nn.Hardtanh(-0.5, 2.0), nn.Hardswish(), nn.Hardsigmoid(), nn.Tanh(), nn.Sigmoid(), nn.LogSigmoid(),
               nn.Softsign(), nn.Tanhshrink(), nn.Threshold(0.3, -1.0), nn.GLU(), nn.Softmax(dim=1),
               nn.Softmax(dim=0), nn.LogSoftmax(dim=-1), nn.Softmin(dim=1)]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: repr(a))
def test_activation(act):
    x = randn(3, 4) * 4
    x[0, 0] = 0.0
    check_export(act, (x,))


def test_embedding():
    emb = nn.Embedding(10, 3, padding_idx=0)
    check_export(emb, (pt.tensor([[1, 2, 0], [9, 4, 4]]),), runs=[(pt.tensor([[0, 0, 0], [5, 6, 7]]),)])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False), (2, True, True)])
def test_recurrent(kind, layers, bidirectional, batch_first):
    m = getattr(nn, kind)(3, 4, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    x = randn(2, 5, 3)
    check_export(m, (x,), runs=[(randn(2, 5, 3),)])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_initial_state(kind):
    m = getattr(nn, kind)(3, 4, num_layers=2)
    h = randn(2, 2, 4)
    state = (h, randn(2, 2, 4)) if kind == "LSTM" else h
    check_export(m, (randn(5, 2, 3), state))


def test_lstm_proj():
    m = nn.LSTM(3, 5, proj_size=2, batch_first=True)
    check_export(m, (randn(2, 4, 3),))


def test_multihead_attention():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    q, k, v = randn(2, 3, 8), randn(2, 4, 8), randn(2, 4, 8)
    check_export(mha, (q, k, v))


def test_multihead_attention_masks_and_kdim():
    mha = nn.MultiheadAttention(8, 4, kdim=6, vdim=5)
    q, k, v = randn(3, 2, 8), randn(4, 2, 6), randn(4, 2, 5)
    pad = pt.tensor([[False, False, True, False], [False, True, False, False]])
    causal = pt.ones(3, 4).triu(1).bool()
    check_export(mha, (q, k, v), kwargs={"key_padding_mask": pad, "attn_mask": causal, "need_weights": False},
                 input_names=["q", "k", "v", "key_padding_mask", "attn_mask"])


def test_multihead_attention_weights_per_head():
    mha = nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True)
    x = randn(3, 2, 8)
    check_export(lambda x: mha(x, x, x, average_attn_weights=False), (x,))


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_layer(norm_first, activation):
    layer = nn.TransformerEncoderLayer(8, 2, 16, activation=activation, norm_first=norm_first, batch_first=True)
    check_export(layer, (randn(2, 5, 8),))


def test_transformer_encoder_with_mask():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), num_layers=2, norm=nn.LayerNorm(8))
    x = randn(5, 2, 8)
    mask = pt.zeros(5, 5).masked_fill(pt.ones(5, 5).triu(1).bool(), float("-inf"))
    check_export(enc, (x, mask))


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "RNNCell"])
def test_recurrent_cells(kind):
    cell = getattr(nn, kind)(4, 3)
    x, h, c = randn(2, 4), randn(2, 3), randn(2, 3)
    if kind == "LSTMCell":
        check_export(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    else:
        check_export(cell, (x, h))


def test_rms_norm_and_embedding_bag():
    check_export(nn.RMSNorm(5), (randn(2, 3, 5),))
    check_export(nn.EmbeddingBag(10, 3, mode="max", padding_idx=0), (pt.tensor([[1, 0, 3], [4, 5, 6]]),))


def test_transformer_decoder_and_transformer():
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 1, norm=nn.LayerNorm(8)).eval()
    check_export(lambda t, m: dec(t, m, tgt_is_causal=True), (randn(2, 4, 8), randn(2, 5, 8)))
    model = nn.Transformer(8, 2, 1, 1, 16, batch_first=True).eval()
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    check_export(lambda s, t: model(s, t, tgt_mask=mask), (randn(2, 5, 8), randn(2, 4, 8)))
