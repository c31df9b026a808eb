"""plugtorch.distributions against NumPy's Generator and formulas written in NumPy (and
torch.distributions when installed), same run: sampling and log_prob, the families whose samplers
are loops over tensors (Gamma's Marsaglia-Tsang rounds, Poisson, Binomial's BTRS) among them, and
the per-call cost of building a validated distribution (one host read per checked parameter).

    python benchmarks/distributions.py          (cpu; add opencl as an argument for that device too)
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_ms, row, try_import_torch  # noqa: E402

import plugtorch as pt  # noqa: E402
import plugtorch.distributions as D  # noqa: E402

N = 1_000_000


def main(devices):
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N).astype(np.float32)
    print(f"{N} float32 draws / values; best of 10; ratios against NumPy")
    for dev in devices:
        print(f"device {dev}")
        sync = (lambda: pt.opencl.synchronize()) if dev == "opencl" else None
        xt = pt.tensor(x, device=dev)
        one = pt.tensor(1.0, device=dev)
        cases = [
            ("Normal.log_prob", lambda: D.Normal(pt.tensor(0.0, device=dev), one).log_prob(xt),
             lambda: -0.5 * x * x - 0.5 * math.log(2 * math.pi),
             (lambda: torch.distributions.Normal(0.0, 1.0).log_prob(tx)) if torch else None),
            ("Normal.rsample", lambda: D.Normal(pt.tensor(0.0, device=dev), one).rsample((N,)),
             lambda: rng.standard_normal(N, dtype=np.float32),
             (lambda: torch.distributions.Normal(0.0, 1.0).rsample((N,))) if torch else None),
            ("Categorical(1000).sample", lambda: D.Categorical(logits=pt.zeros(1000, device=dev)).sample((N,)),
             lambda: rng.choice(1000, N, p=np.full(1000, 1e-3)),
             (lambda: torch.distributions.Categorical(logits=torch.zeros(1000)).sample((N,))) if torch else None),
            ("Categorical(10).sample", lambda: D.Categorical(logits=pt.zeros(10, device=dev)).sample((N,)),
             lambda: rng.choice(10, N, p=np.full(10, 0.1)),
             (lambda: torch.distributions.Categorical(logits=torch.zeros(10)).sample((N,))) if torch else None),
            ("Gamma(2.5).sample", lambda: D.Gamma(pt.tensor(2.5, device=dev), one).sample((N,)),
             lambda: rng.standard_gamma(2.5, N).astype(np.float32),
             (lambda: torch.distributions.Gamma(2.5, 1.0).sample((N,))) if torch else None),
            ("Poisson(40).sample", lambda: D.Poisson(pt.tensor(40.0, device=dev)).sample((N,)),
             lambda: rng.poisson(40.0, N).astype(np.float32),
             (lambda: torch.distributions.Poisson(40.0).sample((N,))) if torch else None),
            ("Binomial(1000, 0.3).sample", lambda: D.Binomial(pt.tensor(1000.0, device=dev),
                                                                pt.tensor(0.3, device=dev)).sample((N,)),
             lambda: rng.binomial(1000, 0.3, N).astype(np.float32),
             (lambda: torch.distributions.Binomial(1000, torch.tensor(0.3)).sample((N,))) if torch else None),
        ]
        if torch:
            tx = torch.from_numpy(x)
        for name, ours, ref, theirs in cases:
            ref_ms = best_ms(ref)
            row(name, best_ms(ours, sync=sync), "ms", ref_ms, "NumPy")
            if theirs is not None:
                row("  torch " + name, best_ms(theirs), "ms", ref_ms, "NumPy")
        small = pt.tensor([0.0, 1.0], device=dev), pt.tensor([1.0, 2.0], device=dev)
        row("Normal(loc, scale) construction", best_ms(lambda: D.Normal(*small), repeat=200) * 1e3, "us")
        row("  without validation", best_ms(lambda: D.Normal(*small, validate_args=False), repeat=200) * 1e3, "us")


if __name__ == "__main__":
    main(["cpu"] + sys.argv[1:])
