"""nn.SyncBatchNorm: under ``mpiexec -n 2`` it equals one BatchNorm over the ranks' joined batches
(scripts/syncbn_check.py on cpu here, ~3 s; ``syncbn_check.py cpu,opencl`` checks opencl tensors
too, ~6 s); in one process it is BatchNorm."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import nn

from .test_collectives import run_ranks


def test_sync_batch_norm_under_mpiexec():
    rc, out = run_ranks(2, "syncbn_check.py", "cpu")
    assert rc == 0 and "syncbn checks passed" in out, f"mpiexec -n 2 syncbn_check.py exited {rc}:\n{out[-4000:]}"


def test_one_process_is_batch_norm_and_convert():
    x = pt.randn(6, 3, 2, 2)
    ref, sync = nn.BatchNorm2d(3), nn.SyncBatchNorm(3)
    np.testing.assert_allclose(sync(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=1e-6)
    assert list(sync.state_dict()) == list(ref.state_dict())
    assert repr(sync) == "SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Sequential(nn.ReLU(), nn.BatchNorm1d(4)))
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert type(conv[1]) is nn.SyncBatchNorm and type(conv[2][1]) is nn.SyncBatchNorm
    assert conv[1].weight is net[1].weight and conv[1].running_mean is net[1].running_mean
    assert tuple(nn.SyncBatchNorm(2)(pt.randn(4, 2, 3, 2, 2)).shape) == (4, 2, 3, 2, 2)    # any N-d input
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        nn.SyncBatchNorm(3)(pt.ones(3))
    with pytest.raises(ValueError, match="SyncBatchNorm number of input channels should be non-zero"):
        nn.SyncBatchNorm(0)(pt.ones(2, 0))
