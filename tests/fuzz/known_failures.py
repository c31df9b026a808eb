"""What the CI budget of the fuzzer finds broken today, and why.

``test_fuzz.py`` fails on a failure missing here and on an entry here that no longer fails, so
the table is exactly what is broken: delete an entry when its fix lands. Keys are the
fuzzer's ``(op, kind)``; a kind starting ``"<backend>: "`` is that backend's alone (checked
only where the backend is available). ``python -m tests.fuzz --rounds 30 --backend-rounds
opencl=2`` prints each failure with the call and its replay command.
"""
from __future__ import annotations

KNOWN_FAILURES = {
}
