"""plugtorch's backend conformance suite: does a backend compute what the cpu reference computes?

Run it as ``plugtorch-conformance --backend NAME`` or ``pytest conformance --backend NAME``;
from Python:

>>> from plugtorch.conformance import run, opdb
>>> [r.status for r in run(["cpu"], opdb.select(["neg"]), max_examples=2)][:1]
['pass']
"""
from __future__ import annotations

from . import cli, opdb, report, tolerances  # noqa: F401
from .entry import DEVICE, Entry, ErrorInput, Input, Sample  # noqa: F401
from .runner import (FAIL, PASS, UNSUPPORTED, VIA_DECOMPOSITION, VIA_FALLBACK, VIA_HOST, Failure, Result,  # noqa: F401
                     check_entry, run)

__all__ = ["opdb", "report", "tolerances", "cli", "Entry", "Sample", "Input", "ErrorInput", "DEVICE", "run", "check_entry", "Result", "Failure",
           "PASS", "FAIL", "UNSUPPORTED", "VIA_FALLBACK", "VIA_DECOMPOSITION", "VIA_HOST"]
