"""nn.utils parametrizations, pruning and utils.checkpoint on opencl (where available) against cpu."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn
from plugtorch.nn.utils import parametrizations as P
from plugtorch.nn.utils import prune
from plugtorch.utils.checkpoint import checkpoint

DEVICES = [d for d in ("opencl",) if d in pt.backends.available()]
pytestmark = pytest.mark.skipif(not DEVICES, reason="no opencl device")


def pair():
    pt.manual_seed(0)
    cpu = nn.Linear(3, 4)
    dev = nn.Linear(3, 4)
    dev.load_state_dict(cpu.state_dict())
    return cpu, dev.to(DEVICES[0])


@pytest.mark.parametrize("name", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_matches_cpu(name):
    cpu, dev = pair()
    P.orthogonal(cpu, orthogonal_map=name, use_trivialization=False)
    P.orthogonal(dev, orthogonal_map=name, use_trivialization=False)
    np.testing.assert_allclose(dev.weight.detach().cpu().numpy(), cpu.weight.detach().numpy(), atol=1e-5)
    dev.weight.sum().backward()
    assert dev.parametrizations.weight.original.grad.device.type == DEVICES[0]


def test_spectral_norm_and_pruning_match_cpu():
    cpu, dev = pair()
    P.spectral_norm(dev)
    W = dev.parametrizations.weight.original.detach().cpu().numpy()
    for _ in range(40):
        dev.weight
    np.testing.assert_allclose(dev.weight.detach().cpu().numpy(), W / np.linalg.svd(W, compute_uv=False)[0],
                               atol=1e-5)
    cpu, dev = pair()
    for m in (cpu, dev):
        prune.l1_unstructured(m, "weight", amount=5)
        prune.ln_structured(m, "weight", amount=1, n=2, dim=0)
    np.testing.assert_array_equal(dev.weight_mask.cpu().numpy(), cpu.weight_mask.numpy())
    assert dev.weight_mask.device.type == DEVICES[0]


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_with_dropout_matches_plain(use_reentrant):
    pt.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.Linear(6, 2)).to(DEVICES[0])
    x = pt.randn(3, 4, device=DEVICES[0], requires_grad=True)
    pt.manual_seed(1)
    net(x).sum().backward()
    g0 = x.grad.cpu().numpy().copy()
    x.grad = None
    pt.manual_seed(1)
    checkpoint(net, x, use_reentrant=use_reentrant).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), g0, rtol=1e-6)
