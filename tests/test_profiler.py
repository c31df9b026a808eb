"""plugtorch.profiler.profile: a dispatch mode counting calls and time per op."""
import plugtorch as pt


def test_counts_calls_per_op():
    x = pt.ones(3)
    with pt.profiler.profile() as prof:
        y = (x * 2 + 1).sum()
        z = x * 3
    assert y.item() == 9.0 and z.tolist() == [3.0, 3.0, 3.0]
    counts = prof.counts()
    assert counts["mul"] == 2 and counts["add"] == 1 and counts["sum"] == 1
    assert all(v[1] >= 0 for v in prof.stats.values())
    assert prof.stats["mul"][2] == {"cpu"}


def test_composites_and_their_parts_are_counted():
    with pt.profiler.profile() as prof:
        pt.ones(2, 3).mean(1)
    c = prof.counts()
    assert c["mean"] == 1 and c["sum"] >= 1 and c["full"] == 1


def test_table_lists_ops_and_total():
    with pt.profiler.profile(sync=True) as prof:
        for _ in range(3):
            pt.ones(2).exp()
    table = prof.table()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["op", "calls", "total"]
    assert any(line.split()[:2] == ["exp", "3"] for line in lines)
    assert lines[-1].startswith("total") and str(prof) == table
    assert prof.table(sort_by="calls", row_limit=1).count("\n") == 4


def test_nothing_recorded_outside_the_context():
    prof = pt.profiler.profile()
    with prof:
        pass
    pt.ones(2) + 1
    assert prof.counts() == {}
