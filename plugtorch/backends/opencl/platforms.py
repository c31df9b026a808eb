"""Finding OpenCL devices: every platform's, GPUs first, then accelerators, then CPUs.

``PLUGTORCH_OPENCL_DEVICE`` (an index into that list, or a substring of "platform: device")
picks one device to expose alone as ``opencl:0``.
"""
from __future__ import annotations

import os

INSTALL_HINT = "install it with `pip install plugtorch[opencl]` (PyOpenCL with PoCL, a CPU OpenCL driver)"


def import_pyopencl():
    """pyopencl, or RuntimeError saying it is missing and how to install it."""
    try:
        import pyopencl
    except ImportError as e:
        raise RuntimeError(f"the opencl backend needs pyopencl, which is not installed ({e}); "
                           f"{INSTALL_HINT}") from None
    return pyopencl


def enumerate_devices():
    """(devices, problem): the ordered device list, or [] and why there are none."""
    try:
        cl = import_pyopencl()
    except RuntimeError as e:
        return [], str(e)
    try:
        platforms = cl.get_platforms()
    except Exception as e:  # pyopencl raises LogicError when the ICD loader finds nothing
        return [], f"no OpenCL platform found ({type(e).__name__}: {e}); {INSTALL_HINT}"
    rank = {cl.device_type.GPU: 0, cl.device_type.ACCELERATOR: 1, cl.device_type.CPU: 2}
    found, seen = [], set()
    for p_i, p in enumerate(platforms):
        try:
            devs = p.get_devices()
        except Exception:
            continue
        for d_i, d in enumerate(devs):
            key = (p.name, p.version, d.name, d_i)   # the same ICD registered twice
            if key in seen:
                continue
            seen.add(key)
            kind = min((r for t, r in rank.items() if d.type & t), default=3)
            found.append((kind, p_i, d_i, d))
    found.sort(key=lambda x: x[:3])
    devices = [d for *_, d in found]
    if not devices:
        return [], f"no OpenCL device found on {len(platforms)} platform(s); {INSTALL_HINT}"
    choice = os.environ.get("PLUGTORCH_OPENCL_DEVICE", "").strip()
    if choice:
        devices = [_pick(devices, choice)]
    return devices, None


def describe(d) -> str:
    return f"{d.platform.name}: {d.name}"


def _pick(devices, choice):
    if choice.isdigit():
        i = int(choice)
        if i >= len(devices):
            raise RuntimeError(f"PLUGTORCH_OPENCL_DEVICE={choice}: there are only {len(devices)} "
                               "OpenCL device(s): " + "; ".join(describe(d) for d in devices))
        return devices[i]
    for d in devices:
        if choice.lower() in describe(d).lower():
            return d
    raise RuntimeError(f"PLUGTORCH_OPENCL_DEVICE={choice!r} matches no OpenCL device; found: " +
                       "; ".join(describe(d) for d in devices))
