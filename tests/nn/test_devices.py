"""Every layer family on a non-cpu backend (opencl, where available) against cpu: forward and
parameter gradients. The conformance suite will hold the full entries; this keeps nn honest
about running on any device (parameters moved with .to(), buffers created on the module's device)."""
import copy

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

DEVICES = [d for d in ("opencl",) if d in pt.backends.available()]
pytestmark = pytest.mark.skipif(not DEVICES, reason="no non-cpu backend available")


class CrossEntropyHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 5)

    def forward(self, x, y):
        return F.cross_entropy(self.lin(x), y, label_smoothing=0.1)


class CTCHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 5)

    def forward(self, x, targets, input_lengths, target_lengths):
        return F.ctc_loss(self.lin(x).log_softmax(2), targets, input_lengths, target_lengths)


def cases():
    x4 = lambda: pt.randn(2, 3, 8, 8)  # noqa: E731
    seq = lambda: pt.randn(5, 2, 8)  # noqa: E731
    return {
        "conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1, stride=2), lambda: (x4(),)),
        "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), lambda: (x4(),)),
        "pools": (lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.MaxPool2d(2), nn.AvgPool2d(3, 1, 1),
                                        nn.AdaptiveMaxPool2d(3), nn.AdaptiveAvgPool2d(2)), lambda: (x4(),)),
        "norms": (lambda: nn.Sequential(nn.BatchNorm2d(3), nn.GroupNorm(1, 3), nn.InstanceNorm2d(3),
                                        nn.LayerNorm(8), nn.RMSNorm(8)), lambda: (x4(),)),
        "activations": (lambda: nn.Sequential(nn.Linear(8, 6), nn.GELU(), nn.Mish(), nn.PReLU(), nn.ELU(),
                                              nn.Hardswish(), nn.Softplus(), nn.LogSoftmax(-1)), lambda: (x4(),)),
        "lstm": (lambda: nn.LSTM(8, 6, num_layers=2, bidirectional=True), lambda: (seq(),)),
        "gru": (lambda: nn.GRU(8, 6, batch_first=True), lambda: (seq(),)),
        "rnn": (lambda: nn.RNN(8, 6), lambda: (seq(),)),
        "lstm_cell": (lambda: nn.LSTMCell(8, 6), lambda: (pt.randn(4, 8),)),
        "gru_cell": (lambda: nn.GRUCell(8, 6), lambda: (pt.randn(4, 8),)),
        "attention": (lambda: nn.MultiheadAttention(8, 2), lambda: (seq(), seq(), seq())),
        "transformer": (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2),
                        lambda: (seq(),)),
        "transformer_decoder": (lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), 1),
                                lambda: (seq(), seq())),
        "embedding": (lambda: nn.Embedding(10, 4, padding_idx=0), lambda: (pt.tensor([[0, 3, 9]]),)),
        "embedding_bag": (lambda: nn.EmbeddingBag(10, 4, mode="max", padding_idx=0),
                          lambda: (pt.tensor([1, 0, 9, 3, 3, 0]), pt.tensor([0, 2, 2, 5]))),
        "ctc_loss": (lambda: CTCHead(), lambda: (pt.randn(6, 2, 8), pt.tensor([[1, 2, 2], [3, 3, 0]]),
                                                 pt.tensor([6, 5]), pt.tensor([3, 2]))),
        "cross_entropy": (lambda: CrossEntropyHead(), lambda: (pt.randn(4, 8), pt.tensor([0, 1, 4, 2]))),
        "bilinear": (lambda: nn.Bilinear(8, 8, 3), lambda: (pt.randn(4, 8), pt.randn(4, 8))),
        "upsample": (lambda: nn.Sequential(nn.Conv2d(3, 2, 1), nn.Upsample(scale_factor=2, mode="bilinear")),
                     lambda: (x4(),)),
    }


CASES = cases()


def first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_module_on_device_matches_cpu(name, device):
    make_module, make_inputs = CASES[name]
    m_cpu = make_module()
    m_dev = copy.deepcopy(m_cpu).to(device)
    for p in m_dev.parameters():
        assert p.device.type == device
    for b in m_dev.buffers():
        assert b.device.type == device
    inputs = make_inputs()
    out_c = first(m_cpu(*inputs))
    out_d = first(m_dev(*[x.to(device) for x in inputs]))
    assert out_d.device.type == device
    np.testing.assert_allclose(out_d.detach().cpu().numpy(), out_c.detach().numpy(), rtol=1e-4, atol=1e-5)
    out_c.sum().backward()
    out_d.sum().backward()
    for (n, pc), pd in zip(m_cpu.named_parameters(), m_dev.parameters()):
        np.testing.assert_allclose(pd.grad.cpu().numpy(), pc.grad.numpy(), rtol=1e-3, atol=1e-4, err_msg=n)


@pytest.mark.parametrize("device", DEVICES)
def test_module_built_on_device(device):
    conv = nn.Conv2d(3, 4, 3, device=device)
    bn = nn.BatchNorm2d(4, device=device)
    assert conv.weight.device.type == device and bn.running_mean.device.type == device
    out = bn(conv(pt.randn(2, 3, 5, 5, device=device)))
    assert out.device.type == device and tuple(out.shape) == (2, 4, 3, 3)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("where", ["cpu targets and lengths", "cpu lengths", "device lengths", "int lists",
                                   "cpu concatenated targets"])
def test_ctc_loss_takes_cpu_targets_and_lengths_with_device_log_probs(device, where):
    """As PyTorch (whose cuDNN path wants them there): targets and lengths on the cpu with
    log_probs on a device. 2 frames with p(blank) = p(1) = 1/2 and the target [1]: the
    alignments 1-1, blank-1 and 1-blank have probability 3/4 in all, so the loss is -log(3/4)."""
    lp = pt.full((2, 1, 2), 0.5, device=device).log().requires_grad_()
    targets, il, tl = pt.tensor([[1]]), pt.tensor([2]), pt.tensor([1])
    if where == "cpu lengths":
        targets = targets.to(device)
    elif where == "device lengths":
        il, tl = il.to(device), tl.to(device)
    elif where == "int lists":
        il, tl = [2], [1]
    elif where == "cpu concatenated targets":
        targets = pt.tensor([1])
    loss = F.ctc_loss(lp, targets, il, tl, reduction="sum")
    assert loss.device.type == device
    assert abs(loss.item() + np.log(0.75)) < 1e-6
    loss.backward()
    assert lp.grad.device.type == device and np.isfinite(lp.grad.cpu().numpy()).all()
