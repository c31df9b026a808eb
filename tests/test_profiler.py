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


def test_key_averages_table_as_pytorch():
    import pytest
    with pt.profiler.profile() as prof:
        with pt.profiler.record_function("block"):
            for _ in range(3):
                y = pt.ones(4).exp() * 2
    avgs = prof.key_averages()
    by_key = {a.key: a for a in avgs}
    assert by_key["exp"].count == 3 and by_key["mul"].count == 3 and by_key["block"].count == 1
    block = next(e for e in prof.events() if e.name == "block")      # self time = total - children's
    assert by_key["block"].self_cpu_time_total == pytest.approx(
        block.cpu_time_total - sum(c.cpu_time_total for c in block.cpu_children))
    assert by_key["exp"].self_cpu_time_total <= by_key["exp"].cpu_time_total
    text = avgs.table(sort_by="self_cpu_time_total", row_limit=2)
    lines = text.splitlines()
    assert lines[1].split() == ["Name", "Self", "CPU", "%", "Self", "CPU", "CPU", "total", "%", "CPU", "total",
                                "CPU", "time", "avg", "#", "of", "Calls"]
    top = sorted(avgs, key=lambda a: -a.self_cpu_time_total)[:2]
    assert [ln.split()[0] for ln in lines[3:5]] == [a.key for a in top] and lines[5].startswith("---")
    assert lines[-1].startswith("Self CPU time total: ")
    full = avgs.table()
    self_pct = [float(ln.split()[1].rstrip("%")) for ln in full.splitlines()[3:-2]]
    assert sum(self_pct) == pytest.approx(100.0, abs=0.05)      # percentages of the summed self times
    with pytest.raises(ValueError, match="sort_by must be one of cpu_time_total, self_cpu_time_total"):
        avgs.table(sort_by="cuda_time_total")
    assert isinstance(prof.events(), pt.profiler.EventList)


def test_autograd_profiler_is_the_older_interface():
    x = pt.ones(2, 3)
    with pt.autograd.profiler.profile(use_cuda=False) as prof:
        for _ in range(5):
            x = x / 2.0
        with pt.autograd.profiler.record_function("tail"):
            x.sum()
    counts = {a.key: a.count for a in prof.key_averages()}
    assert counts["div"] == 5 and counts["tail"] == 1 and counts["sum"] == 1
    assert len(prof.function_events) == 7 and prof.self_cpu_time_total > 0
    assert "div" in prof.key_averages().table(sort_by="cpu_time_total")
    with pt.autograd.profiler.profile(enabled=False) as off:
        x * 2
    assert len(off.function_events) == 0
    assert pt.autograd.profiler.profile(use_cuda=True).sync is True
