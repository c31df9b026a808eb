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
