"""Indexing on the device: gather, scatter(_add), index, index_put and nonzero."""
from __future__ import annotations

KERNELS = {}
