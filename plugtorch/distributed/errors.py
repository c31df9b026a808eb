"""The exception classes of torch.distributed: every one is a RuntimeError."""
from __future__ import annotations


class DistError(RuntimeError):
    """An error in the distributed library."""


class DistBackendError(DistError):
    """An error raised by a process-group backend: a timeout, a failed collective."""
