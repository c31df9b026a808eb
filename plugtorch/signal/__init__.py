"""``plugtorch.signal``: signal processing, as ``torch.signal`` (its ``windows``)."""
from plugtorch.signal import windows  # noqa: F401

__all__ = ["windows"]
