"""Generators inside traced calls: seeding is replayed; restoring a state read in the same call
(fork_rng, utils.checkpoint) is a graph break."""
import plugtorch as pt


def test_seeding_inside_a_compiled_function_is_replayed():
    """manual_seed inside the call: each replay seeds again before drawing, as eager does."""
    def f(x):
        pt.manual_seed(0)
        return pt.nn.functional.dropout(x, 0.5)
    c = pt.compile(f)
    x = pt.ones(64)
    outs = [c(x).tolist() for _ in range(4)]
    assert all(o == f(x).tolist() for o in outs)
    assert pt.compiler.stats()["compiled_calls"] == 3
    g = pt.Generator().manual_seed(3)

    def h(x):
        g.manual_seed(1)
        return pt.rand(4, generator=g) + x
    ch = pt.compile(h)
    assert all(ch(pt.zeros(4)).tolist() == h(pt.zeros(4)).tolist() for _ in range(3))


def test_checkpoint_with_dropout_in_a_compiled_step_equals_eager():
    """utils.checkpoint restores the generator state it read in the same call for the recompute:
    no graph can repeat that (a break), and the step runs eagerly with eager's masks."""
    from plugtorch.utils.checkpoint import checkpoint

    def run(compiled):
        pt.manual_seed(0)
        lin = pt.nn.Linear(8, 8)

        def block(x):
            return pt.nn.functional.dropout(lin(x), 0.5).relu()

        def step(x):
            lin.zero_grad()
            checkpoint(block, x, use_reentrant=False).sum().backward()
            return lin.weight.grad.clone()
        f = pt.compile(step) if compiled else step
        return [f(pt.ones(4, 8)).tolist() for _ in range(4)]
    assert run(True) == run(False)


def test_a_generator_made_on_first_use_inside_a_trace_is_not_a_seeding(dev):
    """A device's default generator is made at its first draw. When that draw was inside a trace
    (the first dropout on a fresh device), making it was recorded as a manual_seed: every replay
    seeded again and drew the same mask (seen on opencl when tests/jit/test_nn.py's dropout test
    ran alone)."""
    from plugtorch import random as R
    from plugtorch._device import canonical
    d = canonical(pt.device(dev))
    saved = R._defaults.pop(d, None)        # (as in a process that has not drawn on dev yet)
    try:
        pt.manual_seed(7)
        x = pt.ones(64, device=dev)
        traced = pt.jit.trace(lambda t: pt.nn.functional.dropout(t, 0.5), (x,), check_trace=False)
        assert "_seed" not in str(traced.graph)
        masks = [traced(x).tolist() for _ in range(3)]
        assert masks[0] != masks[1] != masks[2]
        pt.manual_seed(5)
        e = pt.nn.functional.dropout(x, 0.5).tolist()
        pt.manual_seed(5)
        assert traced(x).tolist() == e
    finally:
        if saved is not None:
            R._defaults[d] = saved
