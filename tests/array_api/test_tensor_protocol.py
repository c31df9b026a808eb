"""The array object's side of the standard on plugtorch.Tensor: __array_namespace__, to_device,
mT, device; array-api-compat finds the namespace through it."""
import math

import array_api_compat
import pytest

import plugtorch as pt
import plugtorch.array_api as xp


def test_array_namespace(device):
    x = pt.ones(2, device=device)
    assert x.__array_namespace__() is xp
    for v in ("2021.12", "2022.12", "2023.12", "2024.12"):
        assert x.__array_namespace__(api_version=v) is xp
    with pytest.raises(ValueError, match="api_version '2030.12' is not supported"):
        x.__array_namespace__(api_version="2030.12")
    assert array_api_compat.array_namespace(x, pt.zeros(1, device=device)) is xp
    assert array_api_compat.is_array_api_obj(x)


def test_to_device(device):
    x = xp.asarray([1.0, 2.0], device="cpu")
    y = x.to_device(device)
    assert y.device == device and y.tolist() == [1.0, 2.0]
    assert x.to_device("cpu") is x
    assert y.to_device("cpu").device == pt.device("cpu")
    with pytest.raises(ValueError, match="stream=1 is not supported"):
        x.to_device(device, stream=1)


def test_mT_and_T(device):
    x = xp.reshape(xp.arange(6, device=device), (1, 2, 3))
    assert x.mT.shape == (1, 3, 2) and x.mT[0, 2, 1].item() == 5
    assert xp.reshape(x, (2, 3)).T.tolist() == [[0, 3], [1, 4], [2, 5]]


def test_namespace_functions_keep_autograd():
    w = pt.tensor([1.0, 2.0], requires_grad=True)
    loss = xp.sum(xp.multiply(xp.asinh(w), w))
    loss.backward()
    expected = [math.asinh(v) + v / math.sqrt(1 + v * v) for v in (1.0, 2.0)]
    assert w.grad.tolist() == pytest.approx(expected, rel=1e-6)
