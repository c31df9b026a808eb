"""NumPy transcriptions of the algorithms in PyTorch's optimizer documentation.

Written from the documented pseudo-code (torch.optim.SGD, Adam, AdamW, RMSprop, Adagrad),
independently of plugtorch's implementation. Each takes the parameter, the list of gradients
seen at each step, and the options; it returns the parameter after every step.
"""
import numpy as np


def sgd(theta, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    # Note: the docs write maximize as "theta + lr*g" at the end; PyTorch's code (and plugtorch)
    # negates the gradient first, so weight decay still shrinks the weights. They agree unless
    # maximize and weight_decay are both set; we transcribe the code's order.
    theta, out, b = theta.copy(), [], None
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        out.append(theta)
    return out


def adam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
         maximize=False, decoupled=False):
    b1, b2 = betas
    theta, out = theta.copy(), []
    m = np.zeros_like(theta); v = np.zeros_like(theta); vmax = np.zeros_like(theta)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if decoupled:                           # AdamW
            theta = theta - lr * weight_decay * theta
        elif weight_decay != 0:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            v_hat = vmax / (1 - b2 ** t)
        else:
            v_hat = v / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def rmsprop(theta, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
            centered=False, maximize=False):
    theta, out = theta.copy(), []
    v = np.zeros_like(theta); gave = np.zeros_like(theta); b = np.zeros_like(theta)
    for g in grads:
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g ** 2
        vt = v
        if centered:
            gave = alpha * gave + (1 - alpha) * g
            vt = vt - gave ** 2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(vt) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (np.sqrt(vt) + eps)
        out.append(theta)
    return out


def adagrad(theta, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
            eps=1e-10, maximize=False):
    theta, out = theta.copy(), []
    s = np.full_like(theta, initial_accumulator_value)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        lr_t = lr / (1 + (t - 1) * lr_decay)
        if weight_decay != 0:
            g = g + weight_decay * theta
        s = s + g ** 2
        theta = theta - lr_t * g / (np.sqrt(s) + eps)
        out.append(theta)
    return out


# ---- NAdam, RAdam, Adamax, Adadelta, ASGD, Rprop, Adafactor, SparseAdam (torch.optim's docs) ----
def nadam(theta, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
          decoupled_weight_decay=False, maximize=False):
    # PyTorch keeps the running product of the mu's as a float32 scalar: rounded here the same way
    b1, b2 = betas
    theta, out = theta.copy(), []
    m = np.zeros_like(theta); v = np.zeros_like(theta); mu_prod = np.float32(1.0)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if weight_decay != 0:
            if decoupled_weight_decay:
                theta = theta * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * theta
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_prod = np.float32(mu_prod * np.float32(mu))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = mu_next * m / (1 - float(mu_prod) * mu_next) + (1 - mu) * g / (1 - float(mu_prod))
        v_hat = v / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def radam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False,
          maximize=False):
    b1, b2 = betas
    theta, out = theta.copy(), []
    m = np.zeros_like(theta); v = np.zeros_like(theta)
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if weight_decay != 0:
            if decoupled_weight_decay:
                theta = theta * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            l_t = np.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
            r_t = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            theta = theta - lr * m_hat * l_t * r_t
        else:
            theta = theta - lr * m_hat
        out.append(theta)
    return out


def adamax(theta, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
    b1, b2 = betas
    theta, out = theta.copy(), []
    m = np.zeros_like(theta); u = np.zeros_like(theta)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        theta = theta - lr * m / ((1 - b1 ** t) * u)
        out.append(theta)
    return out


def adadelta(theta, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    theta, out = theta.copy(), []
    v = np.zeros_like(theta); u = np.zeros_like(theta)
    for g in grads:
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * theta
        v = rho * v + (1 - rho) * g ** 2
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * dx ** 2
        theta = theta - lr * dx
        out.append(theta)
    return out


def asgd(theta, grads, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False):
    """Returns (parameters, averages) after every step; eta and mu are float32 scalars, as PyTorch keeps them."""
    theta, out, avg = theta.copy(), [], []
    ax = np.zeros_like(theta); eta = np.float32(lr); mu = np.float32(1.0)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * theta
        theta = theta * (1 - lambd * float(eta)) - float(eta) * g
        ax = theta.copy() if mu == 1 else ax + float(mu) * (theta - ax)
        eta = np.float32(lr / (1 + lambd * lr * t) ** alpha)
        mu = np.float32(1 / max(1, t - t0))
        out.append(theta)
        avg.append(ax)
    return out, avg


def rprop(theta, grads, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    etaminus, etaplus = etas
    theta, out = theta.copy(), []
    prev = np.zeros_like(theta); step = np.full_like(theta, lr)
    for g in grads:
        g = -g if maximize else g.copy()
        s = g * prev
        step = np.clip(np.where(s > 0, step * etaplus, np.where(s < 0, step * etaminus, step)), *step_sizes)
        g = np.where(s < 0, 0.0, g)
        theta = theta - np.sign(g) * step
        prev = g
        out.append(theta)
    return out


def adafactor(theta, grads, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, maximize=False):
    eps1 = np.finfo(theta.dtype).eps if eps[0] is None else eps[0]
    eps2 = eps[1]
    theta, out = theta.copy(), []
    factored = theta.ndim > 1
    if factored:
        R = np.zeros(theta.shape[:-1] + (1,)); C = np.zeros(theta.shape[:-2] + (1, theta.shape[-1]))
    else:
        V = np.zeros_like(theta)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        beta2_t = t ** beta2_decay
        rho = min(lr, 1 / np.sqrt(t))
        alpha = max(eps2, np.sqrt(np.mean(theta ** 2))) * rho
        if weight_decay != 0:
            theta = theta * (1 - lr * weight_decay)
        if factored:
            R = (1 - beta2_t) * R + beta2_t * np.mean(g ** 2, axis=-1, keepdims=True)
            C = (1 - beta2_t) * C + beta2_t * np.mean(g ** 2, axis=-2, keepdims=True)
            v = R @ C / np.maximum(np.mean(R, axis=-2, keepdims=True), eps1)
        else:
            V = (1 - beta2_t) * V + beta2_t * g ** 2
            v = V
        u = g / np.sqrt(np.maximum(v, eps1 ** 2))
        theta = theta - alpha * u / max(1.0, np.sqrt(np.mean(u ** 2)) / d)
        out.append(theta)
    return out


def sparse_adam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
    """Adam restricted to the rows (dim-0 slices) where the gradient has a nonzero entry."""
    b1, b2 = betas
    theta, out = theta.copy(), []
    m = np.zeros_like(theta); v = np.zeros_like(theta)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        rows = np.flatnonzero(np.any(g.reshape(len(g), -1) != 0, axis=1))
        m[rows] = b1 * m[rows] + (1 - b1) * g[rows]
        v[rows] = b2 * v[rows] + (1 - b2) * g[rows] ** 2
        theta[rows] -= lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m[rows] / (np.sqrt(v[rows]) + eps)
        out.append(theta.copy())
    return out


def bfloat16(x):
    """Round to bfloat16 (nearest, ties to even) and back to float32."""
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)


def muon(theta, grads, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
         ns_coefficients=(3.4445, -4.7750, 2.0315), ns_steps=5, eps=1e-7, adjust_lr_fn=None):
    """Muon with its Newton-Schulz iteration in bfloat16: every matrix product accumulates in
    float32 and rounds to bfloat16 once (as PyTorch's bfloat16 mm/addmm)."""
    a, b, c = ns_coefficients
    A, B = theta.shape
    ratio = {"match_rms_adamw": 0.2 * np.sqrt(max(A, B))}.get(adjust_lr_fn, np.sqrt(max(1, A / B)))
    theta, out = theta.astype(np.float32), []
    buf = np.zeros_like(theta)
    for g in grads:
        g = g.astype(np.float32)
        buf = buf + (1 - momentum) * (g - buf)
        u = g + momentum * (buf - g) if nesterov else buf
        x = bfloat16(u)
        x = x.T if A > B else x
        x = bfloat16(x / max(bfloat16(np.sqrt(np.sum(x.astype(np.float64) ** 2))), eps))   # a bfloat16 norm
        for _ in range(ns_steps):
            gram = bfloat16(x @ x.T)
            upd = bfloat16(b * gram + c * (gram @ gram))
            x = bfloat16(a * x + upd @ x)
        x = x.T if A > B else x
        theta = theta * (1 - lr * weight_decay) - lr * ratio * x
        out.append(theta.astype(np.float64))
    return out
