"""examples/ddp_digits.py under ``mpiexec -n 2``: trains, equals one process, ranks agree."""
import os

import pytest

from tests.distributed.test_ddp import run_ok

pytest.importorskip("sklearn")

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ddp_digits.py")


def test_ddp_digits_two_ranks_one_epoch():
    out = run_ok(2, os.path.abspath(EXAMPLE), "--device", "cpu", "--epochs", "1", "--no-progress")
    assert "digits MLP data-parallel on 2 ranks, cpu, float64, global batch 128" in out
    assert "epoch  1/1  loss" in out
    assert "all 2 ranks hold identical parameters: True" in out
    assert "rank 0: parameters equal a single process trained on the same global batches: True" in out
