"""Training on opencl follows cpu step for step (autograd and composites run on the device)."""
import numpy as np

import plugtorch as pt


def _linear_regression(device, steps=5):
    rng = np.random.default_rng(0)
    X = pt.tensor(rng.normal(size=(64, 3)), dtype=pt.float32, device=device)
    y = X @ pt.tensor([[1.5], [-2.0], [0.5]], device=device) + 0.3
    w = pt.zeros(3, 1, device=device, requires_grad=True)
    b = pt.zeros(1, device=device, requires_grad=True)
    losses = []
    for _ in range(steps):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        with pt.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
            w.grad = None
            b.grad = None
        losses.append(loss.item())
    return losses, w.detach().cpu().numpy(), b.detach().cpu().numpy()


def test_linear_regression_matches_cpu():
    lc, wc, bc = _linear_regression("cpu")
    lo, wo, bo = _linear_regression("opencl")
    np.testing.assert_allclose(lo, lc, rtol=1e-5)
    np.testing.assert_allclose(wo, wc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bo, bc, rtol=1e-5, atol=1e-6)
    assert lc[-1] < lc[0]


def _mlp_classifier(device, steps=4):
    rng = np.random.default_rng(1)
    X = pt.tensor(rng.normal(size=(32, 4)), dtype=pt.float32, device=device)
    labels = pt.tensor(rng.integers(0, 3, 32), device=device)
    W1 = pt.tensor(rng.normal(size=(4, 8)) * 0.5, dtype=pt.float32, device=device).requires_grad_()
    W2 = pt.tensor(rng.normal(size=(8, 3)) * 0.5, dtype=pt.float32, device=device).requires_grad_()
    out = []
    for _ in range(steps):
        logits = pt.tanh(X @ W1) @ W2
        logp = logits - logits.exp().sum(1, keepdim=True).log()
        loss = -logp.gather(1, labels.unsqueeze(1)).mean()
        loss.backward()
        with pt.no_grad():
            for p in (W1, W2):
                p -= 0.5 * p.grad
                p.grad = None
        out.append(loss.item())
    return out, W1.detach().cpu().numpy()


def test_small_mlp_matches_cpu():
    lc, wc = _mlp_classifier("cpu")
    lo, wo = _mlp_classifier("opencl")
    np.testing.assert_allclose(lo, lc, rtol=1e-5)
    np.testing.assert_allclose(wo, wc, rtol=1e-4, atol=1e-5)
