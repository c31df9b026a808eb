"""One fuzzed call: the op, its arguments (a conformance ``Sample``), how it is invoked and
what PyTorch does with it (``Expect``).

``Expect`` is what the generator knows about the call: ``valid`` (PyTorch returns a result),
``error`` with the class PyTorch raises, or ``unknown`` (then cpu's outcome is the reference
for the other backends, and only the documented exception classes are enforced).

>>> VALID, error(IndexError), UNKNOWN
(valid, IndexError, unknown)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import plugtorch as pt
from plugtorch.conformance.entry import Sample


@dataclass(frozen=True)
class Expect:
    outcome: str                # "valid" | "error" | "unknown"
    error: type | tuple | None = None   # a tuple where PyTorch itself raises either (by layout)

    def __repr__(self):
        return self.error_name if self.outcome == "error" else self.outcome

    @property
    def error_name(self) -> str:
        classes = self.error if isinstance(self.error, tuple) else (self.error,)
        return " or ".join(c.__name__ for c in classes)


VALID = Expect("valid")
UNKNOWN = Expect("unknown")


def error(cls) -> Expect:
    return Expect("error", cls)


@dataclass
class Call:
    """A generated call, reproducible from ``(op, seed)`` alone."""

    op: str
    seed: int
    dtype: object
    entry: object
    sample: Sample
    expect: Expect
    target: str = "op"              # "op" (the entry's callable), "public" (plugtorch.<op>), "method" (x.<op>)
    varargs: bool = False           # a method call with the dims / sizes unpacked: x.flip(0, 1)
    mutations: list = field(default_factory=list)
    invalid: str | None = None      # the one change that makes the call invalid ("dim out of range" ...)

    @property
    def fn(self):
        if self.target == "public":
            return getattr(pt, self.op)
        if self.target == "method":
            return _method_call(self.op, self.varargs)
        return self.entry.fn

    def describe(self) -> str:
        how = {"op": "", "public": "plugtorch.", "method": "Tensor."}[self.target]
        call = f"{how}{self.op}{self.sample.describe()}"
        if self.varargs:
            call += " (dims/sizes unpacked)"
        muts = f" after {', '.join(self.mutations)}" if self.mutations else ""
        return f"{call} [{self.dtype.name}]{muts}; expected: {self.expect!r}"

    def repro(self) -> str:
        return f"python -m tests.fuzz --op {self.op} --call-seed {self.seed}"


def _method_call(op, varargs):
    def call(self, *args, **kwargs):
        if varargs and args and isinstance(args[-1], (list, tuple)):
            args = (*args[:-1], *args[-1])
        return getattr(self, op)(*args, **kwargs)
    return call
