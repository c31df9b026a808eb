"""plugtorch.utils.benchmark: Timer, Measurement and Compare as torch.utils.benchmark's. Times
come from a clock that the statement itself advances (1 ms per execution), so the counts and
times the Timer reports are known exactly; no assertion depends on the machine's speed."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.utils import benchmark
from plugtorch.utils.benchmark import Compare, Measurement, TaskSpec, Timer


def _clocked(**kw):
    """A Timer whose statement advances a fake clock by 1 ms and counts its executions."""
    state = {"clock": 0.0, "runs": 0}
    stmt = "state['clock'] += 1e-3; state['runs'] += 1"
    return Timer(stmt, globals={"state": state}, timer=lambda: state["clock"], **kw), state


def test_timeit_runs_the_statement_number_times():
    t, state = _clocked(label="lab", sub_label="sub", description="desc")
    m = t.timeit(50)
    assert isinstance(m, Measurement) and m.number_per_run == 50
    assert state["runs"] == 2 + 50                      # warm-up: max(number // 100, 2)
    assert len(m.raw_times) == 1 and m.raw_times[0] == pytest.approx(0.05)
    assert m.times == [pytest.approx(1e-3)] and m.median == pytest.approx(1e-3) and m.mean == pytest.approx(1e-3)
    assert m.iqr == 0 and (m.label, m.sub_label, m.description, m.num_threads) == ("lab", "sub", "desc", 1)
    assert m.title == "lab: sub" and m.as_row_name == "sub" and m.env == "Unspecified env"


def test_timeit_with_real_time_and_setup():
    m = Timer("y = x + 1", setup="x = 5").timeit(200)
    assert m.number_per_run == 200 and m.raw_times[0] > 0 and m.times[0] == m.raw_times[0] / 200
    m = Timer("torch.add(x, 1); plugtorch.ones(1)", globals={"x": pt.ones(3)}).timeit(10)  # both names are plugtorch
    assert m.mean > 0


def test_blocked_autorange_runs_blocks_until_min_run_time():
    t, state = _clocked()
    blocks = []
    m = t.blocked_autorange(callback=lambda number, seconds: blocks.append((number, seconds)), min_run_time=0.01)
    # 1 ms per execution dwarfs the clock's own cost: blocks of 1
    assert m.number_per_run == 1 and len(m.times) == len(blocks) == len(m.raw_times)
    assert all(n == 1 and s == pytest.approx(1e-3) for n, s in blocks)
    assert sum(m.raw_times) >= 0.01 and sum(m.raw_times[:-1]) < 0.01
    assert len(m.times) in (10, 11) and m.median == pytest.approx(1e-3)


def test_blocked_autorange_block_size_is_a_power_of_ten():
    m = Timer("x = 1").blocked_autorange(min_run_time=0.02)
    assert m.number_per_run >= 1 and math.log10(m.number_per_run) == int(math.log10(m.number_per_run))
    assert all(t > 0 for t in m.raw_times) and sum(m.raw_times) >= 0.02
    np.testing.assert_allclose(m.times, np.array(m.raw_times) / m.number_per_run)


def test_adaptive_autorange_stops_once_the_spread_is_small():
    t, state = _clocked()
    m = t.adaptive_autorange(threshold=0.1, min_run_time=0.01)
    assert m.number_per_run == 1 and len(m.times) > 3 and sum(m.raw_times) >= 0.01
    assert m.meets_confidence(0.1) and not m.has_warnings
    m = Timer("x = 1").adaptive_autorange(max_run_time=0.05)
    assert len(m.times) >= 1 and m.median > 0


def test_repeat_and_autorange_point_to_blocked_autorange():
    with pytest.raises(NotImplementedError, match="See `Timer.blocked_autorange.`"):
        Timer().repeat(3, 10)
    with pytest.raises(NotImplementedError, match="See `Timer.blocked_autorange.`"):
        Timer().autorange()


def test_num_threads_is_restored():
    before = pt.get_num_threads()
    m = Timer("x = 1", num_threads=1).timeit(10)
    assert m.num_threads == 1 and pt.get_num_threads() == before


def test_bad_arguments():
    with pytest.raises(ValueError, match="Currently only a `str` stmt is supported"):
        Timer(lambda: 1)
    with pytest.raises(ValueError, match="global_setup is C\\+\\+ only"):
        Timer("pass", global_setup="#include <x>")
    with pytest.raises(ValueError, match="Invalid language `fortran`"):
        Timer("pass", language="fortran")
    with pytest.raises(NotImplementedError, match="no C\\+\\+ API"):
        Timer("pass", language="c++")
    with pytest.raises(ValueError, match="Expected an instance of `Measurement`, got <class 'int'> instead"):
        Compare([1])


def test_measurement_statistics_and_repr():
    times = [1.0, 2.0, 3.0, 4.0, 10.0]
    m = Measurement(2, [2e-6 * t for t in times], TaskSpec("x + 1", "x = 5", label="add", description="n=4"))
    assert m.times == pytest.approx([1e-6 * t for t in times])
    assert m.median == pytest.approx(3e-6) and m.mean == pytest.approx(4e-6)
    assert m.iqr == pytest.approx(2e-6)                  # quartiles 2 and 4 (linear interpolation)
    assert m.has_warnings and not m.meets_confidence(0.25)
    assert repr(m).splitlines()[0].startswith("<plugtorch.utils.benchmark.common.Measurement object at 0x")
    assert repr(m).splitlines()[1:] == [
        "add", "n=4", "setup: x = 5",
        "  Median: 3.00 us",
        "  IQR:    2.00 us (2.00 to 4.00)",
        "  5 measurements, 2 runs per measurement, 1 thread",
        "  WARNING: Interquartile range is 66.7% of the median measurement.",
        "           This suggests significant environmental influence."]
    one = Measurement(100, [3e-7], TaskSpec("pass", "pass", num_threads=4))
    assert repr(one).splitlines()[1:] == ["pass", "  3.00 ns", "  1 measurement, 100 runs , 4 threads"]


def test_merge_and_units():
    spec = TaskSpec("x", "pass")
    merged = Measurement.merge([Measurement(2, [4.0], spec), Measurement(4, [4.0, 8.0], spec),
                                Measurement(1, [5.0], TaskSpec("y", "pass"))])
    assert [(m.stmt, m.number_per_run, m.raw_times) for m in merged] == [("x", 1, [2.0, 1.0, 2.0]), ("y", 1, [5.0])]
    assert [benchmark.select_unit(t)[0] for t in (3e-9, 4.5e-5, 2e-3, 0.9, 12.0)] == ["ns", "us", "ms", "ms", "s"]
    assert benchmark.trim_sigfig(3.14159, 2) == pytest.approx(3.1)
    assert benchmark.trim_sigfig(1234.5, 3) == 1230.0


def _table_measurements():
    ms = []
    for sub, base in [("float", 1e-6), ("int", 2.5e-6)]:
        for n, k in [(1, 1), (4, 3)]:
            ms.append(Measurement(10, [base * k * 10 * f for f in (1, 1.01, 0.99, 1.02)],
                                  TaskSpec("x + 1", "pass", label="add", sub_label=sub, description=f"n={n}")))
    ms.append(Measurement(10, [2e-4], TaskSpec("x * 2", "pass", label="mul", sub_label="float", description="n=1",
                                               num_threads=4)))
    return ms


def test_compare_table():
    assert str(Compare(_table_measurements())) == (
        "[---------- add ----------]\n"
        "             |  n=1  |  n=4\n"
        "1 threads: ----------------\n"
        "      float  |  1.0  |  3.0\n"
        "      int    |  2.5  |  7.5\n"
        "\n"
        "Times are in microseconds (us).\n"
        "\n"
        "[------ mul -------]\n"
        "             |  n=1 \n"
        "4 threads: ---------\n"
        "      float  |  20.0\n"
        "\n"
        "Times are in microseconds (us).\n")


def test_compare_trimmed_and_coloured():
    c = Compare(_table_measurements())
    c.trim_significant_figures()
    c.colorize()
    lines = str(c).splitlines()
    best, bad = "\033[92m\033[1m", "\033[2m\033[91m"
    end = "\033[0m\033[0m"
    assert lines[3] == f"      float  |  {best} 1 {end}  |  {best}3.0{end}"       # the best of each column
    assert lines[4] == f"      int    |  {bad} 2 {end}  |  {bad}7.5{end}"         # 2.5x the best
    c = Compare(_table_measurements()[:2])
    c.colorize(rowwise=True)
    assert str(c).splitlines()[3] == f"      float  |  {best}1.0{end}  |  {bad}3.0{end}"


def test_compare_merges_replicates_and_highlights_warnings(capsys):
    spec = TaskSpec("x", "pass", label="L", sub_label="s", description="d")
    c = Compare([Measurement(1, [1e-3, 1e-3], spec)])
    c.extend_results([Measurement(1, [2e-3, 4e-3], spec)])   # one task: merged into one cell
    c.highlight_warnings()
    c.print()
    out = capsys.readouterr().out
    # per-execution times 1, 1, 2, 4 ms: median 1.5, quartiles 1 and 2.5, IQR/median 100%
    assert "      s  |  1.5 (! 100%)\n" in out
    assert "Times are in milliseconds (ms).\n(! XX%) Measurement has high variance" in out


def test_docstring_examples():
    import doctest
    import sys
    for name in ("plugtorch.utils.benchmark", "plugtorch.utils.benchmark.common", "plugtorch.utils.benchmark.timer",
                 "plugtorch.utils.benchmark.compare"):
        assert doctest.testmod(sys.modules[name]).failed == 0, name
