"""plugtorch.accelerator: the accelerator is cuda when a GPU is there, else none (answers, no errors)."""
import pytest

import plugtorch as pt


def test_without_a_gpu_the_queries_answer_none(monkeypatch):
    monkeypatch.setattr(pt.cuda, "is_available", lambda: False)
    assert pt.accelerator.is_available() is False
    assert pt.accelerator.current_accelerator() is None
    assert pt.accelerator.current_accelerator(check_available=True) is None
    assert pt.accelerator.device_count() == 0
    assert pt.accelerator.memory_allocated() == 0
    with pt.accelerator.device_index(None):      # None: nothing to switch
        pass


@pytest.mark.parametrize("call", [lambda a: a.current_device_index(), lambda a: a.synchronize(),
                                  lambda a: a.set_device_index(0), lambda a: a.device_index(0).__enter__()])
def test_without_a_gpu_device_calls_raise_runtime_error(monkeypatch, call):
    monkeypatch.setattr(pt.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        call(pt.accelerator)


def test_the_usual_device_choice_gives_a_usable_device():
    # the idiom of PyTorch's examples
    device = pt.accelerator.current_accelerator() if pt.accelerator.is_available() else pt.device("cpu")
    assert pt.ones(2, device=device).sum().item() == 2.0
    if pt.cuda.is_available():
        assert device == pt.device("cuda") and pt.accelerator.device_count() == pt.cuda.device_count()
        assert pt.accelerator.current_device_index() == pt.cuda.current_device()


def test_a_device_of_another_type_is_refused(monkeypatch):
    monkeypatch.setattr(pt.cuda, "is_available", lambda: True)
    monkeypatch.setattr(pt.cuda, "current_device", lambda: 0)
    with pytest.raises(ValueError, match="opencl:0 is not the current accelerator's device type"):
        pt.accelerator.set_device_index("opencl:0")
