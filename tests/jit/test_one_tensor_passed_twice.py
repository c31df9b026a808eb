"""A call traced with one tensor passed twice, f(a, a), has one value for both arguments in its
graph: it replays only where the call passes one tensor there again; f(a, b) traces anew."""
import numpy as np
import pytest

import plugtorch as pt


def f(a, b):
    return a * b + 1.0


@pytest.mark.parametrize("device", ["cpu", "opencl"])
def test_graph_traced_on_one_tensor_twice_is_not_replayed_for_two(device):
    if device == "opencl" and not pt.opencl.is_available():
        pytest.skip("no opencl device")
    an, bn = np.array([1.0, 2.0, 3.0], np.float32), np.array([4.0, 5.0, 6.0], np.float32)
    a, b = pt.tensor(an, device=device), pt.tensor(bn, device=device)
    c = pt.compile(f)
    for _ in range(3):
        np.testing.assert_array_equal(c(a, a).cpu().numpy(), an * an + 1)
    # (it replayed b * b + 1 for (a, b) and a * a + 1 for (b, a): every use bound to one input)
    for _ in range(3):
        np.testing.assert_array_equal(c(a, b).cpu().numpy(), an * bn + 1)
        np.testing.assert_array_equal(c(b, a).cpu().numpy(), an * bn + 1)
        np.testing.assert_array_equal(c(a, a).cpu().numpy(), an * an + 1)
        np.testing.assert_array_equal(c(b, b).cpu().numpy(), bn * bn + 1)


def test_traced_function_refuses_two_tensors_for_one():
    a, b = pt.tensor([1.0, 2.0]), pt.tensor([3.0, 4.0])
    t = pt.jit.trace(f, (a, a))
    assert t(b, b).tolist() == [10.0, 17.0]
    try:
        got = t(a, b)
    except Exception as e:     # a guard error naming the two inputs
        assert "were one tensor when traced" in str(e)
    else:
        assert got.tolist() == [4.0, 9.0]
