"""``ReduceOp``: how a reducing collective combines the ranks' tensors, as torch.distributed's.

>>> from plugtorch.distributed import ReduceOp
>>> ReduceOp.SUM, ReduceOp.AVG, ReduceOp.BXOR
(<ReduceOp.SUM: 0>, <ReduceOp.AVG: 1>, <ReduceOp.BXOR: 7>)
"""
from __future__ import annotations

import enum


class ReduceOp(enum.Enum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5    # bitwise AND, OR, XOR: integer and bool tensors only
    BOR = 6
    BXOR = 7

    def __repr__(self):
        return f"<ReduceOp.{self.name}: {self.value}>"

    def __str__(self):
        return f"ReduceOp.{self.name}"


def check_reduce_op(op, opname: str) -> ReduceOp:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{opname}: op must be a plugtorch.distributed.ReduceOp (SUM, AVG, PRODUCT, "
                        f"MIN, MAX, BAND, BOR, BXOR), got {op!r}")
    return op


BITWISE = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)
