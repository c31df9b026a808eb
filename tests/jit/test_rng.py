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
