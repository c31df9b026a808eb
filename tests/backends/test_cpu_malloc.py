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


def test_old_glibc_cap_on_the_mmap_threshold_falls_back_and_still_sets_trim():
    # glibc <= 2.34 returns 0 from mallopt(M_MMAP_THRESHOLD, v) for v > HEAP_MAX_SIZE / 2 (32 MiB on
    # 64-bit): the threshold falls back to that cap and the trim threshold is still set.
    import ctypes

    from plugtorch.backends.cpu import _malloc
    cap = 32 << 20 if ctypes.sizeof(ctypes.c_long) >= 8 else 512 << 10
    calls = {}

    def old_mallopt(param, value):
        if param == _malloc.M_MMAP_THRESHOLD and value > cap:
            return 0
        calls[param] = value
        return 1

    assert _malloc._set(old_mallopt) is True
    assert calls == {_malloc.M_MMAP_THRESHOLD: cap, _malloc.M_TRIM_THRESHOLD: 256 << 20}
    calls.clear()
    assert _malloc._set(lambda p, v: calls.setdefault(p, v) and 1) is True      # (a current glibc)
    assert calls == {_malloc.M_MMAP_THRESHOLD: 64 << 20, _malloc.M_TRIM_THRESHOLD: 256 << 20}


def test_glibc_tunables_count_as_the_programs_choice():
    from plugtorch.backends.cpu import _malloc
    assert _malloc._chosen_by_program({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"})
    assert _malloc._chosen_by_program({"GLIBC_TUNABLES": "glibc.elision.enable=1:glibc.malloc.trim_threshold=0"})
    assert not _malloc._chosen_by_program({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert not _malloc._chosen_by_program({})


@pytest.mark.skipif(not glibc, reason="malloc's thresholds are glibc's (mallopt)")
def test_import_leaves_malloc_alone_under_glibc_tunables():
    assert _tuned({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}) == "False"
