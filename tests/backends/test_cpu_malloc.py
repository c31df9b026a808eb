"""plugtorch/backends/cpu/_malloc.py: glibc's thresholds are set at import unless the program opts
out (PLUGTORCH_MALLOC_TUNING=0) or set glibc's own environment variables."""
import os
import subprocess
import sys

import pytest

glibc = sys.platform.startswith("linux") and "glibc" in " ".join(__import__("platform").libc_ver())


def _tuned(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PLUGTORCH_MALLOC_TUNING", "MALLOC_MMAP_THRESHOLD_",
                                                            "MALLOC_TRIM_THRESHOLD_")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", "import plugtorch; from plugtorch.backends.cpu import _malloc; "
                          "print(_malloc.tuned)"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(not glibc, reason="malloc's thresholds are glibc's (mallopt)")
def test_import_tunes_glibc_malloc_unless_told_not_to():
    assert _tuned({}) == "True"
    assert _tuned({"PLUGTORCH_MALLOC_TUNING": "0"}) == "False"
    assert _tuned({"MALLOC_TRIM_THRESHOLD_": "1000000"}) == "False"     # (the program's own choice)
