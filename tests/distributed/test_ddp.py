"""DistributedDataParallel: bucket assignment here, and training under ``mpiexec -n 2`` / ``-n 3``
(tests/distributed/scripts/ddp_checks.py: equality with one process for SGD with momentum and
Adam on cpu and opencl, no_sync, overlap, unused parameters, buffers, state_dict, subgroups and
the sampler's partition)."""
import pytest

import plugtorch as pt
from plugtorch.nn.parallel.reducer import FIRST_BUCKET_BYTES, assign_buckets
from tests.distributed.test_collectives import run_ranks


def run_ok(n, script, *args):
    """Run ``script`` (under tests/distributed/scripts, or a path) on ``n`` ranks; its output."""
    rc, out = run_ranks(n, script, *args, timeout=180)
    assert rc == 0, f"mpiexec -n {n} {script} exited {rc}:\n{out[-4000:]}"
    return out


def test_buckets_take_parameters_in_reverse_order_and_close_at_the_cap():
    f, cpu = pt.float32, pt.device("cpu")
    sizes = [(400, f, cpu), (40, f, cpu), (800, f, cpu), (40, f, cpu), (100, f, cpu)]
    # first bucket closes at >= 100 bytes, later ones at >= 500: 4 | 3, 2 | 1, 0
    assert assign_buckets(sizes, cap_bytes=500, first_cap_bytes=100) == [[4], [3, 2], [1, 0]]
    assert assign_buckets(sizes, cap_bytes=10 ** 9, first_cap_bytes=10 ** 9) == [[4, 3, 2, 1, 0]]
    assert assign_buckets(sizes, cap_bytes=1, first_cap_bytes=1) == [[4], [3], [2], [1], [0]]


def test_buckets_hold_one_dtype_and_device_each():
    f, d, cpu, alt = pt.float32, pt.float64, pt.device("cpu"), pt.device("opencl", 0)
    sizes = [(8, f, cpu), (8, d, cpu), (8, f, cpu), (8, f, alt), (8, d, cpu)]
    assert assign_buckets(sizes, cap_bytes=16, first_cap_bytes=16) == [[4, 1], [2, 0], [3]]


def test_default_first_bucket_is_one_mebibyte_as_pytorch():
    assert FIRST_BUCKET_BYTES == 1024 * 1024
    f, cpu = pt.float32, pt.device("cpu")
    # the 784-1024-1024-10 MLP: fc3 and fc2 (4 MB) fill the first bucket, fc1 the second
    sizes = [(784 * 1024 * 4, f, cpu), (4096, f, cpu), (1024 * 1024 * 4, f, cpu), (4096, f, cpu),
             (10 * 1024 * 4, f, cpu), (40, f, cpu)]
    assert assign_buckets(sizes, 25 * 2 ** 20, FIRST_BUCKET_BYTES) == [[5, 4, 3, 2], [1, 0]]


def test_constructor_refuses_a_module_without_trainable_parameters():
    from plugtorch.nn.parallel import DistributedDataParallel
    with pytest.raises(RuntimeError, match="DistributedDataParallel is not needed when a module doesn't have any "
                                           "parameter that requires a gradient"):
        DistributedDataParallel(pt.nn.ReLU())


def test_device_ids_only_for_a_module_on_one_accelerator():
    from plugtorch.nn.parallel.distributed import _check_device_ids
    with pytest.raises(ValueError, match=r"device_ids and output_device arguments only work with single-device/"
                                         r"multiple-device GPU modules or CPU modules, but got device_ids \[0\], "
                                         r"output_device None, and module parameters \{device\(type='cpu'\)\}"):
        _check_device_ids([0], None, {pt.device("cpu")})
    cl = pt.device("opencl", 0)
    assert _check_device_ids([0], None, {cl}) == ([cl], cl)
    assert _check_device_ids(["opencl:0"], 0, {cl}) == ([cl], cl)
    with pytest.raises(ValueError, match=r"device_ids \[1\] name opencl:1, but the module's parameters are on "
                                         r"opencl:0; move the module there first"):
        _check_device_ids([1], None, {cl})


@pytest.mark.parametrize("n", [2, 3])
def test_ddp_under_mpiexec(n):
    devices = ["cpu"] + (["opencl"] if "opencl" in pt.backends.available() else [])
    out = run_ok(n, "ddp_checks.py", *devices)
    for check in ("train-sgd", "train-adam", "train-adam gradient_as_bucket_view", "no_sync", "buffers",
                  "state_dict", "unused-reported", "unused-found", "unused-static-graph", "globally-unused",
                  "sampler-partition", "mismatched-models"):
        assert f"ok {check} " in out or out.count(f"ok {check}\n"), f"check {check!r} missing:\n{out}"
    for device in devices:
        assert f"ok train-sgd {device}" in out and f"ok no_sync {device}" in out
    assert ("ok subgroup cpu" in out) == (n > 2)
    assert "ddp checks passed" in out
