"""plugtorch.backends.cudnn: the flags scripts set are there, with PyTorch's defaults."""
import plugtorch as pt
import plugtorch.backends.cudnn as cudnn


def test_flags_have_torchs_defaults_and_can_be_set(monkeypatch):
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, cudnn.benchmark_limit) == \
        (True, False, False, True, None)
    monkeypatch.setattr(cudnn, "benchmark", True)      # as dcgan does: cudnn.benchmark = True
    assert pt.backends.cudnn.benchmark is True


def test_without_cuda_cudnn_is_unavailable(monkeypatch):
    monkeypatch.setattr(pt.cuda, "is_available", lambda: False)
    assert cudnn.is_available() is False and cudnn.version() is None
