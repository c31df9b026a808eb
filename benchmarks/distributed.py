"""Data-parallel speed: plugtorch DDP over MPI against PyTorch DDP over gloo, and all_reduce
against mpi4py, each pair timed in the same run.

1. Training scaling: a 784-1024-1024-10 MLP (ReLU), global batch 256, SGD, random data (fixed
   seed), one BLAS thread per rank. Samples per second with 1 process (no DDP) and with 2 ranks
   (DDP, batch 128 each); the scaling ratio is 2 ranks / 1 rank. plugtorch runs under the venv's
   mpiexec; PyTorch (the anchor) runs with ``--torch-python`` (default /tmp/tvenv/bin/python
   when it exists). Issue 17's targets: plugtorch's scaling >= 1.2x and >= PyTorch's.
2. all_reduce of a 25 MiB float32 cpu tensor between 2 ranks: ``dist.all_reduce`` against
   mpi4py's ``Allreduce`` on the same buffer in the same mpiexec run, median of several
   repetitions after warm-up. Target: >= 80% of mpi4py's bandwidth.

Each configuration runs once per round, rounds alternate the configurations so that all of
them see the same machine load, and the table shows medians over rounds. Timings on a loaded
machine are noise: read them together with the load average printed above them.

    python benchmarks/distributed.py [--rounds 3] [--profile] [--no-torch] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from distributed_common import GLOBAL_BATCH, RESULT_TAG, SIZES  # noqa: E402

DEFAULT_TORCH_PYTHON = "/tmp/tvenv/bin/python"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def mpiexec() -> str:
    """The mpiexec beside this Python (the MPICH wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        sys.exit("benchmarks/distributed.py: no mpiexec beside this Python or on PATH; "
                 "install the mpi extra: pip install plugtorch[mpi]")
    return found


def run_worker(cmd: list[str], timeout: float) -> dict:
    """Run one worker and return the JSON of its RESULT line; exit with its output on failure."""
    env = {**os.environ, **ONE_THREAD}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"benchmarks/distributed.py: {' '.join(cmd)} did not finish in {timeout:g} s")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            if proc.returncode == 0:
                return json.loads(line[len(RESULT_TAG):])
    sys.exit(f"benchmarks/distributed.py: {' '.join(cmd)} failed (exit {proc.returncode}):\n"
             f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def training_configs(args, torch_python) -> dict:
    """name -> command of every training run of one round."""
    steps = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    worker = [sys.executable, str(HERE / "distributed_plugtorch.py"), "train"] + steps
    configs = {("plugtorch", n): [mpiexec(), "-n", str(n)] + worker for n in (1, 2)}
    if torch_python:
        for n in (1, 2):
            configs[("pytorch", n)] = [torch_python, str(HERE / "distributed_torch.py"),
                                       "--ranks", str(n)] + steps
    return configs


def time_training(args, torch_python) -> dict:
    configs = training_configs(args, torch_python)
    results = {key: [] for key in configs}
    for r in range(args.rounds):
        order = list(configs) if r % 2 == 0 else list(reversed(configs))   # no fixed position
        for key in order:
            results[key].append(run_worker(configs[key], args.timeout))
    return results


def print_training(results: dict, args) -> None:
    print(f"\n1. MLP {'-'.join(map(str, SIZES))} (ReLU), global batch {GLOBAL_BATCH}, SGD, 1 BLAS thread "
          f"per rank;\n   samples/s, median of {args.rounds} round(s) of {args.steps} steps after "
          f"{args.warmup} warm-up")
    print(f"   {'':<28}{'samples/s':^20}{'scaling':>9}{'CPU ms/step':^20}".rstrip())
    print(f"   {'':<28}{'1 rank':>10}{'2 ranks':>10}{'2 / 1':>9}{'1 rank':>10}{'2 ranks':>10}   (2 ranks: DDP; CPU: the"
          f" busiest rank's)")
    scaling, updates = {}, []
    for name in ("plugtorch", "pytorch"):
        if (name, 1) not in results:
            continue
        runs = results[(name, 1)], results[(name, 2)]
        sps = [statistics.median(r["samples_per_s"] for r in rs) for rs in runs]
        cpu = [statistics.median(r["cpu_ms_per_step"] for r in rs) for rs in runs]
        scaling[name] = sps[1] / sps[0]
        label = name + (" (mpi)" if name == "plugtorch" else f" {runs[0][0]['torch']} (gloo)")
        rounds = [b["samples_per_s"] / a["samples_per_s"] for a, b in zip(*runs)]
        spread = f"   rounds {min(rounds):.2f}-{max(rounds):.2f}x" if len(rounds) > 1 else ""
        print(f"   {label:<28}{sps[0]:>10.0f}{sps[1]:>10.0f}{scaling[name]:>8.2f}x{cpu[0]:>10.1f}{cpu[1]:>10.1f}"
              f"{spread}")
        updates += [r["update"] for rs in runs for r in rs]
    target = "target >= 1.20x"
    if "pytorch" in scaling:
        print(f"   plugtorch scaling / pytorch scaling: {scaling['plugtorch'] / scaling['pytorch']:.2f}x "
              f"({target} and >= pytorch's {scaling['pytorch']:.2f}x)")
    else:
        print(f"   ({target}; pytorch's anchor not measured: see above)")
    spread = (max(updates) - min(updates)) / max(updates)
    print(f"   every run moved the parameters by the same sum |w - w0| = {updates[0]:.4f} "
          f"(relative spread {spread:.1e}): the same training, 1 or 2 ranks")


def time_allreduce(args) -> list[dict]:
    cmd = [mpiexec(), "-n", "2", sys.executable, str(HERE / "distributed_plugtorch.py"), "allreduce",
           "--mb", str(args.mb), "--reps", str(args.reps), "--warmup", str(args.ar_warmup)]
    return [run_worker(cmd, args.timeout) for _ in range(args.rounds)]


def print_allreduce(results: list[dict], args) -> None:
    nbytes = results[0]["bytes"]
    print(f"\n2. all_reduce (SUM, in place) of a {args.mb} MiB float32 buffer between 2 ranks; median of "
          f"{args.reps} after {args.ar_warmup} warm-up,\n   contenders in turn; median over {len(results)} "
          f"run(s); GB/s = bytes / time")
    names = list(results[0]["median_s"])
    med = {n: statistics.median(r["median_s"][n] for r in results) for n in names}
    ref = med["mpi4py Allreduce"]
    for n in names:
        ratio = "" if n == "mpi4py Allreduce" else f"{ref / med[n]:6.2f}x mpi4py Allreduce"
        note = "  (target >= 0.80x)" if n == "plugtorch all_reduce" else ""
        print(f"   {n:<40}{med[n] * 1e3:8.2f} ms{nbytes / med[n] / 1e9:8.2f} GB/s  {ratio}{note}".rstrip())


def profile(args) -> None:
    """Where a plugtorch step's time goes: 1 rank on the full batch, 1 rank on half of it (the
    compute each of 2 ranks does, no communication), and each of 2 DDP ranks."""
    steps = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--profile"]
    worker = [sys.executable, str(HERE / "distributed_plugtorch.py"), "train"] + steps
    runs = {"1 rank, batch 256": run_worker([mpiexec(), "-n", "1"] + worker, args.timeout),
            "1 rank, batch 128": run_worker([mpiexec(), "-n", "1"] + worker + ["--share", "2"], args.timeout),
            "2 ranks DDP": run_worker([mpiexec(), "-n", "2"] + worker, args.timeout)}
    ddp = runs["2 ranks DDP"]["phases"]
    print(f"\n3. Profile of a plugtorch training step: ms per step, wall / cpu (this process's CPU time;\n"
          f"   wall above cpu is waiting, or not running on a loaded machine); {args.steps} steps, one run each")
    columns = ("1 rank", "1 rank", "DDP", "DDP"), ("batch 256", "batch 128", "rank 0", "rank 1")
    for heading in columns:
        print(f"   {'':<62}" + "".join(f"{h:>14}" for h in heading))
    for k in ddp:
        cells = [runs[r]["phases"].get(k, [None])[0] for r in ("1 rank, batch 256", "1 rank, batch 128")]
        cells += ddp.get(k, [None, None])
        if k == "minor page faults per step":
            print(f"   {k:<62}" + "".join(f"{c[0]:>14.0f}" for c in cells))
        else:
            print(f"   {k:<62}" + "".join(f"{c[0]:>7.2f} /{c[1]:>5.1f}" if c else f"{'':>14}" for c in cells))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few steps and repetitions: a smoke test")
    ap.add_argument("--rounds", type=int, default=3, help="runs of every configuration")
    ap.add_argument("--steps", type=int, default=30, help="timed training steps per run")
    ap.add_argument("--warmup", type=int, default=5, help="training steps before timing")
    ap.add_argument("--mb", type=int, default=25, help="all_reduce buffer size in MiB")
    ap.add_argument("--reps", type=int, default=15, help="timed all-reduces per contender and run")
    ap.add_argument("--ar-warmup", type=int, default=3, help="all-reduces per contender before timing")
    ap.add_argument("--torch-python", default=DEFAULT_TORCH_PYTHON,
                    help="a Python with torch for the PyTorch DDP anchor (default: %(default)s if present)")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch anchor")
    ap.add_argument("--profile", action="store_true", help="add a per-phase breakdown of plugtorch's step")
    ap.add_argument("--timeout", type=float, default=300, help="seconds any one worker may run")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.warmup, args.reps, args.ar_warmup = 1, 3, 1, 3, 1
    for name in ("rounds", "steps", "mb", "reps", "warmup", "ar_warmup", "timeout"):
        least = 0 if "warmup" in name else 1
        if getattr(args, name) < least:
            ap.error(f"--{name.replace('_', '-')} must be at least {least}, got {getattr(args, name)}")
    torch_python = None
    if args.no_torch:
        why = "--no-torch"
    elif not Path(args.torch_python).exists():
        why = f"{args.torch_python} not found; pass --torch-python PATH to a Python with torch"
    else:
        torch_python, why = args.torch_python, ""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min); mpiexec: {mpiexec()}")
    print(f"PyTorch anchor: {torch_python}" if torch_python else f"PyTorch anchor skipped: {why}")

    print_training(time_training(args, torch_python), args)
    print_allreduce(time_allreduce(args), args)
    if args.profile:
        profile(args)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load}")


if __name__ == "__main__":
    main()
