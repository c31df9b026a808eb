"""Utilities beside the core: ``plugtorch.utils.data`` (datasets and loaders) and ``checkpoint``
(activation checkpointing)."""
from plugtorch.utils import data  # noqa: F401
from plugtorch.utils import checkpoint  # noqa: F401,E402
