"""Partial graphs (plugtorch.compiler.resume): a compiled training step that logs its loss.

The digits MLP step of benchmarks/jit.py (64 -> 128 -> 10, batch 64, SGD with momentum, cpu),
written as users write it, with ``losses.append(loss.item())`` after ``opt.step()``. The read's
data changes at every step, so no single graph holds the call: compile splits the function
before that statement (the step replays as a graph, the logging runs as Python). Peers, timed in
alternating rounds in this run:

  * NumPy by hand (the same step, and the append of the loss);
  * plugtorch eager;
  * plugtorch.compile of the logging step (split: a graph, then the Python tail);
  * plugtorch.compile of the same step returning the loss tensor (one whole graph), the best a
    split can do.

    python benchmarks/jit_partial.py [--quick]
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, os.path.dirname(__file__))
from jit import data, interleaved, row, train_step_fn  # noqa: E402
from training import LR, MOMENTUM, NumpyMLP, initial_weights, plugtorch_mlp  # noqa: E402

import plugtorch as pt  # noqa: E402
from plugtorch import nn  # noqa: E402


def logging_step(model, opt, losses):
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        return loss
    return step


def main(argv=None):
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    n = 40 if quick else 200
    x, y = data()
    w = initial_weights()
    ref = NumpyMLP(w)
    X, Y = pt.from_numpy(x), pt.from_numpy(y)
    runs = {}
    for name in ("eager", "split", "whole"):
        m = plugtorch_mlp(w)
        opt = pt.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM)
        runs[name] = (m, [], opt)
    step_e = logging_step(runs["eager"][0], runs["eager"][2], runs["eager"][1])
    step_s = pt.compile(logging_step(runs["split"][0], runs["split"][2], runs["split"][1]))
    step_w = pt.compile(train_step_fn(runs["whole"][0], runs["whole"][2]))   # (returns the loss)
    np_losses = []

    def numpy_step():
        np_losses.append(float(ref.step(x, y)))
    c, b = {}, {}
    t = interleaved({"numpy": numpy_step, "eager": lambda: step_e(X, Y), "split": lambda: step_s(X, Y),
                     "whole": lambda: step_w(X, Y)}, n=n, repeat=15, cpu=c, best=b)
    # the logging step ran as many calls eagerly and split: the same losses, to the bit
    assert runs["split"][1] == runs["eager"][1], "the split step's losses differ from eager's"
    st = pt.compiler.stats()
    heads = [s for s in step_s._splits.values() if not isinstance(s, str)]
    assert heads and st["eager_calls"] == 0, st["reasons"]
    print("cpu: digits MLP 64-128-10, batch 64, a step that logs loss.item() (median of 15 runs of the mean "
          f"per call; load average {os.getloadavg()[0]:.1f})")
    print(f"  split before line {heads[0].line}: the step replays as a graph, the logging runs as Python")
    row("numpy by hand (and the append)", t["numpy"], cpu=c["numpy"], best=b["numpy"])
    for k, name in (("eager", "plugtorch eager"), ("split", "plugtorch.compile, split")):
        row(name, t[k], t["numpy"], "numpy", cpu=c[k], cpu_ref=c["numpy"], best=b[k], best_ref=b["numpy"])
    row("plugtorch.compile, returning the loss (whole)", t["whole"], t["numpy"], "numpy", cpu=c["whole"],
        cpu_ref=c["numpy"], best=b["whole"], best_ref=b["numpy"])
    print(f"  {'split speed-up over eager':<44}{t['eager'] / t['split']:>10.2f}x"
          f"  (cpu {c['eager'] / c['split']:.2f}x)")
    print(f"  {'split against the whole graph':<44}{t['split'] / t['whole']:>10.2f}x"
          f"  (cpu {c['split'] / c['whole']:.2f}x)")
    return t


if __name__ == "__main__":
    main()
