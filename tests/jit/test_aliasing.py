"""Inputs that share memory. A graph traced on separate tensors holds its writes into an input as
copies at its end (functionalization), so with aliased inputs the writes would not reach the
other input's reads: the replay refuses such a call (compile runs it eagerly, trace raises)."""
import pytest

import plugtorch as pt


def _writes_a_reads_b(a, b):
    a.add_(1)
    return b * 2


def test_compile_runs_aliased_inputs_eagerly(dev):
    c = pt.compile(_writes_a_reads_b)
    x, y = pt.zeros(2, device=dev), pt.zeros(2, device=dev)
    c(x, y)
    c(x, y)                                   # replayed
    z = pt.zeros(2, device=dev)
    assert c(z, z).cpu().tolist() == [2.0, 2.0] and z.cpu().tolist() == [1.0, 1.0]   # as eager
    base = pt.zeros(4, device=dev)
    assert c(base[:2], base[1:3]).cpu().tolist() == [2.0, 0.0]                     # overlapping views
    assert base.cpu().tolist() == [1.0, 1.0, 0.0, 0.0]
    st = pt.compiler.stats()
    assert st["eager_calls"] == 2 and st["compiled_calls"] == 1 and st["graphs"] == 1
    assert any("input 0 and input 1 share memory" in r for r in st["reasons"])
    x2, y2 = pt.zeros(2, device=dev), pt.ones(2, device=dev)
    assert c(x2, y2).cpu().tolist() == [2.0, 2.0]          # separate tensors: the graph again
    assert pt.compiler.stats()["compiled_calls"] == 2


def test_trace_refuses_aliased_inputs_naming_them():
    t = pt.jit.trace(_writes_a_reads_b, (pt.zeros(2), pt.zeros(2)))
    z = pt.zeros(2)
    with pytest.raises(RuntimeError, match=r"input 0 and input 1 share memory.*writes into one of them"):
        t(z, z)
    with pytest.raises(RuntimeError, match=r"example input 0 and input 1 share memory"):
        pt.jit.trace(_writes_a_reads_b, (z, z))


def test_an_input_that_is_a_written_parameter():
    p = pt.nn.Parameter(pt.ones(2))
    opt = pt.optim.SGD([p], lr=0.5)

    def step(x):
        opt.zero_grad()
        (p * x).sum().backward()
        opt.step()
        return x * 1
    c = pt.compile(step)
    x = pt.full((2,), 2.0)
    c(x)
    c(x)
    c(x)
    assert p.tolist() == [-2.0, -2.0]
    out = c(p.detach())            # p itself as the input: eager (the step writes p)
    assert out.tolist() == [-1.0, -1.0] and p.tolist() == [-1.0, -1.0]
    assert any("a tensor the graph writes into" in r for r in pt.compiler.stats()["reasons"])


def test_graphs_that_write_no_input_do_not_check():
    c = pt.compile(lambda a, b: a * b + 1)
    z = pt.full((2,), 3.0)
    c(z, z)
    assert c(z, z).tolist() == [10.0, 10.0]
    assert pt.compiler.stats()["compiled_calls"] == 1


def test_a_returned_view_of_an_input_shares_its_version_counter(dev):
    """Writing through a compiled call's view of its input moves the input's version, so autograd
    refuses a backward that saved the old values, as for the eager view."""
    w = pt.ones(2, device=dev, requires_grad=True)
    c = pt.compile(lambda x: x[0])
    x = pt.ones(2, 2, device=dev)
    c(x)
    c(x)
    z = w * x              # saves x
    c(x).add_(1)           # a replay's view of x
    assert x.cpu().tolist() == [[2.0, 2.0], [1.0, 1.0]]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    assert pt.compiler.stats()["compiled_calls"] == 2


def test_a_replay_that_writes_an_input_moves_its_version(dev):
    w = pt.ones(2, device=dev, requires_grad=True)

    def f(x):
        x.add_(1)
        return x * 2
    c = pt.compile(f)
    x = pt.ones(2, device=dev)
    c(x)
    c(x)
    z = w * x              # saves x
    v = x._version
    c(x)                   # a replay writes x
    assert x._version > v and x.cpu().tolist() == [4.0, 4.0]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_a_compiled_optimizer_step_moves_the_parameters_versions():
    p = pt.nn.Parameter(pt.ones(2))
    opt = pt.optim.SGD([p], lr=0.5)
    c = pt.compile(lambda: (opt.zero_grad(), (p * p).sum().backward(), opt.step()))
    c()
    c()
    y = p * p              # saves p
    v = p._version
    c()
    assert p._version > v
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
