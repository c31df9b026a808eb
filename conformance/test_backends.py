"""The conformance checks as pytest items: ``pytest conformance --backend NAME`` from a checkout, or
``pytest -p plugtorch.conformance.pytest_plugin --pyargs plugtorch.conformance --backend NAME``."""
from plugtorch.conformance.pytest_plugin import test_conformance  # noqa: F401
