"""A failure on one rank ends the whole job: an uncaught exception aborts every rank (with the
failing rank's traceback), and a collective another rank never joins times out with a
RuntimeError instead of hanging."""
import re
import time

import pytest

from tests.distributed.test_collectives import run_ranks


@pytest.mark.parametrize("where", ["main", "thread"])
def test_a_rank_raising_mid_training_ends_the_job(where):
    start = time.monotonic()
    rc, out = run_ranks(2, "rank_raises.py", where, timeout=60)
    elapsed = time.monotonic() - start
    assert rc != 0 and elapsed < 60, (rc, elapsed, out[-3000:])
    assert "[rank 1] uncaught exception; aborting all ranks (MPI Abort)" in out, out[-3000:]
    assert "[rank 1] ValueError: rank 1 failed at step 3" in out, out[-3000:]
    assert "survivor finished" not in out


def test_a_collective_nobody_joins_times_out():
    rc, out = run_ranks(2, "collective_timeout.py", timeout=60)
    assert rc == 0, out[-3000:]
    m = re.search(r"rank 0 raised DistBackendError after (\d+\.\d) s: all_reduce: rank 0 timed out after "
                  r"1 s waiting for the other ranks", out)
    assert m, out[-3000:]
    # about the 1 s limit: a loaded machine may add to it, but it ended before rank 1 joined at 2.5 s
    assert 1.0 <= float(m.group(1)) < 2.5, out[-3000:]
    assert "wait raised: all_reduce: rank 0 timed out after 0.2 s" in out, out[-3000:]
    assert "rank 0 done" in out and "rank 1 done" in out
