"""What a compiled or traced training step returns: a loss whose history its own backward freed
comes back requiring grad with a grad_fn, as eager's, and a second backward through it raises
eager's error; an output with history the backward left usable keeps the call eager."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd.graph import _FREED


def _setup():
    pt.manual_seed(0)
    model = pt.nn.Linear(4, 3)
    opt = pt.optim.SGD(model.parameters(), lr=0.1)
    x = pt.randn(5, 4)
    y = pt.tensor([0, 1, 2, 0, 1])
    return model, opt, x, y


def _reference_losses(n):
    """The losses of ``n`` SGD steps, by NumPy: softmax cross-entropy of x @ W.T + b."""
    model, _, x, y = _setup()
    w, b = model.weight.detach().numpy().astype(np.float64), model.bias.detach().numpy().astype(np.float64)
    xs, ys = x.numpy().astype(np.float64), y.numpy()
    out = []
    for _ in range(n):
        z = xs @ w.T + b
        z = z - z.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        out.append(-np.log(p[np.arange(5), ys]).mean())
        g = p.copy()
        g[np.arange(5), ys] -= 1
        g /= 5
        w, b = w - 0.1 * g.T @ xs, b - 0.1 * g.sum(0)
    return out


@pytest.mark.parametrize("how", ["compile", "trace"])
def test_a_returned_loss_keeps_a_freed_history(how):
    model, opt, x, y = _setup()
    loss_fn = pt.nn.CrossEntropyLoss()

    def step(x, y):
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    if how == "compile":
        run = pt.compile(step)
        losses = [run(x, y) for _ in range(4)]       # traced, then replayed
        expected = _reference_losses(4)
    else:
        run = pt.jit.trace(step, (x, y), check_trace=False)   # (the trace ran the first step)
        losses = [run(x, y) for _ in range(3)]
        expected = _reference_losses(4)[1:]
    np.testing.assert_allclose([float(l.detach()) for l in losses], expected, rtol=1e-5)
    for loss in losses:
        # (the replay returned the loss with requires_grad False and no grad_fn)
        assert loss.requires_grad and loss.grad_fn is not None and not loss.is_leaf
        for again in (lambda: loss.backward(), lambda: (loss * 2).backward()):
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                again()
    assert losses[-1].grad_fn.name() == "CompiledFunctionBackward"
    assert str(losses[-1].grad_fn).startswith("<CompiledFunctionBackward")
    assert all(p.grad is None for p in model.parameters())     # (the failed backwards wrote nothing)
    if how == "compile":
        assert pt.compiler.stats()["compiled_calls"] == 3 and pt.compiler.stats()["graph_breaks"] == 0
    with pytest.raises(RuntimeError) as e:
        losses[-1].backward()
    assert str(e.value) == _FREED


def test_a_detached_loss_and_a_forward_output_are_as_eager():
    model, opt, x, y = _setup()

    def step(x, y):
        loss = pt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.detach()
    c = pt.compile(step)
    for _ in range(3):
        out = c(x, y)
        assert not out.requires_grad and out.grad_fn is None and out.is_leaf
    f = pt.compile(lambda x: model(x).sum())
    for _ in range(3):       # (a forward alone replays through autograd: a live history)
        s = f(x)
        assert s.requires_grad and s.grad_fn is not None
        s.backward()
        np.testing.assert_allclose(model.bias.grad.numpy(), [5.0] * 3)
        model.bias.grad = None
        model.weight.grad = None


def test_an_output_with_live_history_raises_at_backward_instead_of_leaving_gradients_out():
    # out2 = model(x2) after the step: eager returns it with history to the updated parameters;
    # a dispatch-free replay returned it without, so out2.sum().backward() raised "does not
    # require grad", and (out2 * v).sum().backward() gave v its gradient and the weights none
    model, opt, x, y = _setup()
    x2 = pt.ones(2, 4)
    v = pt.ones(2, 3, requires_grad=True)

    def step(x, y):
        loss = pt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss, model(x2)
    c = pt.compile(step)
    loss, out2 = c(x, y)                       # (the trace: eager, a live history)
    out2.sum().backward()
    np.testing.assert_allclose(model.bias.grad.numpy(), [2.0] * 3)
    opt.zero_grad()
    for _ in range(3):
        loss, out2 = c(x, y)
        want = x2.numpy() @ model.weight.detach().numpy().T + model.bias.detach().numpy()
        np.testing.assert_allclose(out2.detach().numpy(), want, rtol=1e-6)
        assert out2.requires_grad and out2.grad_fn is not None and out2.grad_fn.name() == "CompiledFunctionBackward"
        for again in (lambda: out2.sum().backward(), lambda: (out2 * v).sum().backward()):
            with pytest.raises(RuntimeError, match="records no autograd history"):
                again()
        assert model.weight.grad is None and model.bias.grad is None
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 3 and st["graph_breaks"] == 0
    with pytest.warns(pt.jit.TracerWarning, match="autograd history that backward did not free"):
        pt.jit.trace(step, (x, y), check_trace=False)


def test_a_step_logging_a_norm_after_the_read_still_compiles_its_head():
    # the head of the split (statements before the read) hands wn, with live history, to the
    # tail: it replays as a graph (it ran eagerly while a live history was a break)
    model, opt, x, y = _setup()
    log = []

    def step(x, y):
        loss = pt.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        wn = model.weight.norm()
        log.append(wn.item())
        return loss
    c = pt.compile(step)
    losses = [float(c(x, y).detach()) for _ in range(6)]
    np.testing.assert_allclose(losses, _reference_losses(6), rtol=1e-5)
    np.testing.assert_allclose(log[-1], np.linalg.norm(model.weight.detach().numpy()), rtol=1e-6)
    assert len(log) == 6
    assert pt.compiler.stats()["compiled_calls"] >= 1


def test_a_loss_kept_by_retain_graph_takes_a_second_backward_as_eager():
    # loss = sum(w * w * x), x = 1: dloss/dw = 2w = [2, 4]; the step's backward(retain_graph=True)
    # leaves w.grad = [2, 4] and a second loss.backward() outside adds [2, 4] again. The replay
    # returned the loss without history, so the second backward raised "no history" where eager
    # runs it: the call is now a graph break (eager), as torch.compile breaks at backward
    w = pt.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        loss = (w * w * x).sum()
        loss.backward(retain_graph=True)
        return loss
    pt.compiler.reset()
    c = pt.compile(step)
    for _ in range(3):
        w.grad = None
        loss = c(pt.ones(2))
        np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])
        loss.backward()
        assert loss.item() == 5.0
        np.testing.assert_array_equal(w.grad.numpy(), [4.0, 8.0])
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 0 and st["graph_breaks"] >= 1
    assert any("retain_graph=True" in r for r in st["reasons"])
    with pytest.raises(RuntimeError, match="retain_graph=True.*return it detached"):
        pt.compile(step, fullgraph=True)(pt.ones(2))
    # jit.trace cannot break: its replay's loss names the cause and the fixes at backward
    w.grad = None
    with pytest.warns(pt.jit.TracerWarning, match="retain_graph=True"):
        t = pt.jit.trace(step, (pt.ones(2),), check_trace=False)
    w.grad = None
    loss = t(pt.ones(2))
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])
    assert loss.requires_grad and loss.grad_fn.name() == "CompiledFunctionBackward"
    with pytest.raises(RuntimeError, match=r"backward\(retain_graph=True\).*Run the second backward inside"):
        loss.backward()


def test_a_step_with_retain_graph_returning_a_detached_loss_still_compiles():
    # the same step returning loss.detach(): nothing to run a second backward through, so it
    # replays as a graph; w.grad = 2w = [2, 4] each call
    w = pt.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        loss = (w * w * x).sum()
        loss.backward(retain_graph=True)
        return loss.detach()
    pt.compiler.reset()
    c = pt.compile(step)
    for _ in range(4):
        w.grad = None
        assert c(pt.ones(2)).item() == 5.0
        np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 0 and st["compiled_calls"] >= 2


def _embedding_step(emb, retain):
    # the conformance harness's module call (run_module): forward, then autograd.grad to the weight
    def step(idx):
        out = emb(idx)
        (g,) = pt.autograd.grad([out], [emb.weight], [pt.ones(tuple(out.shape))], retain_graph=retain)
        return out, g
    return step


def test_an_embedding_step_keeping_its_history_with_autograd_grad_is_a_break_as_eager_needs():
    # autograd.grad(retain_graph=True), as backward(retain_graph=True): eager lets a backward of
    # the returned output reach the weight afterwards (weight.grad = rows counted per index, for a
    # grad_output of ones: index 1 twice, 2 once), which a replay could not run: a graph break
    emb = pt.nn.Embedding(4, 2)
    pt.compiler.reset()
    c = pt.compile(_embedding_step(emb, True))
    for _ in range(3):
        emb.weight.grad = None
        out, g = c(pt.tensor([1, 2, 1]))
        np.testing.assert_array_equal(g.numpy(), [[0, 0], [2, 2], [1, 1], [0, 0]])
        out.backward(pt.ones(3, 2))
        np.testing.assert_array_equal(emb.weight.grad.numpy(), [[0, 0], [2, 2], [1, 1], [0, 0]])
    st = pt.compiler.stats()
    assert st["compiled_calls"] == 0 and any("retain_graph=True" in r for r in st["reasons"])


def test_an_embedding_step_freeing_its_history_compiles_with_max_norm_writes():
    # the same step without retain_graph (what the conformance harness now runs for index-only
    # inputs) replays its graph: the weight gradient counts each index's rows, padding_idx 0 gets
    # none, and max_norm=1 renormalises in place each looked-up row whose norm exceeds 1 (row 3:
    # [3, 4] -> [0.6, 0.8]), a write the replay makes to the module's weight as eager does
    emb = pt.nn.Embedding(4, 2, padding_idx=0, max_norm=1.0)
    with pt.no_grad():
        emb.weight.copy_(pt.tensor([[0.0, 0.0], [0.3, 0.4], [0.0, 0.5], [3.0, 4.0]]))
    pt.compiler.reset()
    c = pt.compile(_embedding_step(emb, False))
    for idx, counts in (([1, 0, 1], [0, 2, 0, 0]), ([2, 2, 0], [0, 0, 2, 0]), ([3, 1, 0], [0, 1, 0, 1])):
        out, g = c(pt.tensor(idx))
        np.testing.assert_array_equal(g.numpy(), np.repeat(np.array(counts, np.float32)[:, None], 2, axis=1))
        assert out.requires_grad
    np.testing.assert_allclose(emb.weight.detach().numpy(), [[0, 0], [0.3, 0.4], [0, 0.5], [0.6, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(out.detach().numpy(), [[0.6, 0.8], [0.3, 0.4], [0, 0]], rtol=1e-6)
    st = pt.compiler.stats()
    assert st["graph_breaks"] == 0 and st["compiled_calls"] == 2
    with pytest.raises(RuntimeError, match="second time"):
        out.backward(pt.ones(3, 2))     # (eager's freed-history error: that backward freed it)
