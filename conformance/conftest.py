"""Lets ``pytest conformance --backend NAME`` run the suite (see pytest_plugin.py)."""
from plugtorch.conformance.pytest_plugin import pytest_addoption, pytest_generate_tests  # noqa: F401
