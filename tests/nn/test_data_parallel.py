"""nn.DataParallel: a transparent wrapper without an accelerator (as PyTorch's on a CPU-only
machine); with explicit devices, scatter / replicate / gather equal the module on the whole batch,
gradients included."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn

OPENCL = pt.opencl.is_available()


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh())
        self.head = nn.Linear(6, 2)

    def forward(self, x, scale=1.0, extra=None):
        h = self.body(x)
        return {"out": self.head(h) * scale, "aux": (h.sum(1), None if extra is None else extra * 2)}


def test_pass_through_and_state_dict_prefix():
    net = TwoHeads()
    dp = nn.DataParallel(net)
    assert dp.device_ids == [] and dp.module is net
    x = pt.randn(5, 4)
    np.testing.assert_array_equal(dp(x)["out"].detach().numpy(), net(x)["out"].detach().numpy())
    assert list(dp.state_dict())[:2] == ["module.body.0.weight", "module.body.0.bias"]
    other = nn.DataParallel(TwoHeads())
    other.load_state_dict(dp.state_dict())          # a checkpoint saved from a DataParallel model
    np.testing.assert_array_equal(other.module.head.weight.detach().numpy(), net.head.weight.detach().numpy())


@pytest.mark.parametrize("devices", [["cpu", "cpu", "cpu"],
                                     pytest.param(["cpu", "opencl"], marks=pytest.mark.skipif(not OPENCL,
                                                                                            reason="no opencl"))])
def test_replicas_equal_the_whole_batch(devices):
    pt.manual_seed(0)
    net = TwoHeads().double()
    ref = TwoHeads().double()
    ref.load_state_dict(net.state_dict())
    net.body[1].eval()                              # batch statistics differ per shard: compare eval BN
    ref.body[1].eval()
    dp = nn.DataParallel(net, device_ids=devices)
    x = pt.randn(7, 4, dtype=pt.float64)
    extra = pt.randn(7, dtype=pt.float64)
    out = dp(x, scale=0.5, extra=extra)
    want = ref(x, scale=0.5, extra=extra)
    assert out["out"].device.type == "cpu" and out["aux"][1].shape == (7,)
    np.testing.assert_allclose(out["out"].detach().numpy(), want["out"].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(out["aux"][0].detach().numpy(), want["aux"][0].detach().numpy(), rtol=1e-12)
    (out["out"].sum() + out["aux"][0].sum()).backward()
    (want["out"].sum() + want["aux"][0].sum()).backward()
    for (name, p), q in zip(net.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, err_msg=name)


def test_small_batches_use_fewer_replicas():
    dp = nn.DataParallel(nn.Linear(3, 2), device_ids=["cpu"] * 4)
    assert tuple(dp(pt.randn(2, 3)).shape) == (2, 2)  # two chunks for four devices


@pytest.mark.skipif(not OPENCL, reason="no opencl")
def test_parameters_must_be_on_the_first_device():
    dp = nn.DataParallel(nn.Linear(3, 2), device_ids=["opencl", "cpu"])
    with pytest.raises(RuntimeError, match=r"module must have its parameters and buffers on device opencl:0 "
                                           r"\(device_ids\[0\]\) but found one of them on device: cpu"):
        dp(pt.randn(4, 3))
    one = nn.DataParallel(nn.Linear(3, 2), device_ids=["opencl"])       # one device: the module moves there
    assert one.module.weight.device.type == "opencl" and one(pt.randn(4, 3)).device.type == "opencl"
