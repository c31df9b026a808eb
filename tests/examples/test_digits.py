"""Smoke tests: the digits MLP and CNN examples train on cpu and learn."""
import importlib.util
import os

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_mlp_two_epochs_on_cpu(capsys):
    acc = load_example("digits_mlp").main(["--device", "cpu", "--epochs", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert "digits MLP on cpu" in out and "epoch  2/2  loss" in out and "final test accuracy" in out
    assert acc > 0.85


def test_digits_cnn_one_epoch_on_cpu(capsys):
    acc = load_example("digits_cnn").main(["--device", "cpu", "--epochs", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert "digits CNN on cpu" in out and "epoch  1/1  loss" in out and "final test accuracy" in out
    assert acc > 0.7


def test_pick_device():
    data = load_example("digits_data")
    assert data.pick_device("cpu") == data.pt.device("cpu")
    assert data.pick_device("auto").type in data.pt.backends.available()
