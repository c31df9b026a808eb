"""A lock file beside a cached file, so that processes fetching the same file take turns.

``flock`` locks belong to the open file, so a process that dies (even by SIGKILL) releases
its lock at once. The holder deletes the lock file before unlocking; a process that locked a
file meanwhile deleted finds that its path now names another file (or none) and tries again,
so two processes never both believe they hold the lock and no lock files pile up.

>>> with FileLock("/tmp/x.safetensors.lock"):     # doctest: +SKIP
...     ...                                      # download /tmp/x.safetensors if still missing
"""
from __future__ import annotations

import os
import sys

try:
    import fcntl
except ImportError:     # Windows: no flock; downloads stay atomic, two processes may both fetch
    fcntl = None


class FileLock:
    """An exclusive lock on ``path`` (created if needed, deleted on release). While another
    process holds it, ``waiting_message`` is printed once to stderr and the call blocks."""

    def __init__(self, path: str, waiting_message: str | None = None):
        self.path, self.waiting_message, self.fd = path, waiting_message, None

    def __enter__(self) -> "FileLock":
        if fcntl is None:
            return self
        told = False
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if self.waiting_message and not told:
                        print(self.waiting_message, file=sys.stderr, flush=True)
                        told = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
                if _same_file(fd, self.path):
                    self.fd = fd
                    return self
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)    # the holder deleted this lock file before unlocking: lock the new one

    def __exit__(self, *exc) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(self.fd)   # closing the last descriptor releases the lock
            self.fd = None


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def is_locked_by_another(path: str) -> bool:
    """True when another process holds ``flock`` on ``path`` (False if it is gone)."""
    if fcntl is None:
        return True     # cannot tell: assume it is in use
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
