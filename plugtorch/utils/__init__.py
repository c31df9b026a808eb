"""Utilities beside the core: ``plugtorch.utils.data`` (datasets and loaders)."""
from plugtorch.utils import data  # noqa: F401
