"""A failure on one rank ends the whole job.

With MPICH a rank that dies leaves the others spinning in their next collective forever.
While a process group is initialized, an uncaught exception (main thread or any other) prints
its traceback, prefixed with the failing rank, and calls ``MPI_Abort``, which makes mpiexec
kill every rank and exit non-zero. Collectives that wait too long raise (``work.Work.wait``).
"""
from __future__ import annotations

import sys
import threading
import time
import traceback

_saved = None   # (sys.excepthook, threading.excepthook) to restore

# MPI_Abort makes mpiexec kill every rank at once; hydra's proxy can handle the abort before
# the output it has not yet forwarded from the rank's pipe, and then the traceback is lost
# (CI saw an empty log, MPICH's own "Abort(1)" line included). A pause between the flush and
# the abort lets the launcher forward what was written; it is paid only by a failing job.
FORWARD_GRACE_S = 1.0


def _abort_after(pg, etype, value, tb) -> None:
    rank = pg.ranks[pg.rank]
    text = "".join(traceback.format_exception(etype, value, tb))
    lines = "".join(f"[rank {rank}] {line}\n" for line in text.rstrip("\n").split("\n"))
    try:
        sys.stderr.write(f"[rank {rank}] uncaught exception; aborting all ranks (MPI Abort)\n" + lines)
        sys.stderr.flush()
        sys.stdout.flush()
        time.sleep(FORWARD_GRACE_S)
    finally:
        pg.abort(1)


def install_abort_on_exception(pg) -> None:
    global _saved
    if _saved is None:
        _saved = (sys.excepthook, threading.excepthook)
    sys.excepthook = lambda etype, value, tb: _abort_after(pg, etype, value, tb)

    def thread_hook(args):
        if args.exc_type is SystemExit:
            return
        _abort_after(pg, args.exc_type, args.exc_value, args.exc_traceback)

    threading.excepthook = thread_hook


def uninstall_abort_on_exception() -> None:
    global _saved
    if _saved is not None:
        sys.excepthook, threading.excepthook = _saved
        _saved = None
