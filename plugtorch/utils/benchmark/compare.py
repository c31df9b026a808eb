"""``Compare``: many Measurements as one table per label (rows: sub-label or statement, grouped
by thread count; columns: description), printed as ``torch.utils.benchmark.Compare`` prints it.

>>> from plugtorch.utils.benchmark import Compare, Measurement, TaskSpec
>>> ms = [Measurement(1, [t * 1e-6] * 4, TaskSpec("x + 1", "pass", label="add", sub_label=s, description=d))
...       for s, d, t in [("float", "n=1", 1.0), ("float", "n=4", 3.0), ("int", "n=1", 2.5)]]
>>> print(Compare(ms))
[---------- add ----------]
             |  n=1  |  n=4
1 threads: ----------------
      float  |  1.0  |  3.0
      int    |  2.5  |     
<BLANKLINE>
Times are in microseconds (us).
<BLANKLINE>
"""
from __future__ import annotations

import collections
import enum
import math

from plugtorch.utils.benchmark import common

__all__ = ["Colorize", "Compare"]

BEST, GOOD, BAD, VERY_BAD = "\033[92m", "\033[34m", "\033[2m\033[91m", "\033[31m"
BOLD, TERMINATE = "\033[1m", "\033[0m"


class Colorize(enum.Enum):
    NONE = "none"
    COLUMNWISE = "columnwise"
    ROWWISE = "rowwise"


class _Column:
    """How one column prints its numbers: one width and number of decimals for all its cells."""

    def __init__(self, grouped_results, time_scale, trim, highlight):
        self.grouped_results = grouped_results
        flat = [r for g in grouped_results for r in g]
        self._trim = trim
        self._highlight = highlight and any(r.has_warnings for r in flat if r)
        leading = [math.ceil(math.log10(r.median / time_scale)) if r else None for r in flat]
        unit_digits = max(d for d in leading if d is not None)
        decimals = min(max(m.significant_figures - d, 0) for d, m in zip(leading, flat)
                       if m is not None and d is not None) if trim else 1
        length = unit_digits + decimals + (1 if decimals else 0)
        self._template = f"{{:>{length}.{decimals}f}}{{:>{7 if self._highlight else 0}}}"

    def num_to_str(self, value, sigfigs, spread):
        if value is None:
            return " " * len(self.num_to_str(1, sigfigs, None))
        if self._trim:
            value = common.trim_sigfig(value, sigfigs)
        return self._template.format(value, f" (! {spread * 100:.0f}%)" if self._highlight and spread is not None else "")


def _color(segment, value, best):
    if value <= best * 1.01 or value <= best + 100e-9:
        return BEST + BOLD + segment + TERMINATE * 2
    if value <= best * 1.1:
        return GOOD + BOLD + segment + TERMINATE * 2
    if value >= best * 5:
        return VERY_BAD + BOLD + segment + TERMINATE * 2
    if value >= best * 2:
        return BAD + segment + TERMINATE * 2
    return segment


def _table(results, colorize, trim, highlight) -> str:
    """One label's table."""
    unit, scale = common.select_unit(min(r.median for r in results))
    row_key = lambda m: (m.num_threads, m.env, m.as_row_name)   # noqa: E731
    row_keys = sorted(common.ordered_unique(row_key(r) for r in results), key=lambda k: k[:2])  # (stable: stmt order kept)
    col_keys = common.ordered_unique(r.description for r in results)
    cells = [[None] * len(col_keys) for _ in row_keys]
    rpos = {k: i for i, k in enumerate(row_keys)}
    cpos = {k: j for j, k in enumerate(col_keys)}
    for r in results:
        cells[rpos[row_key(r)]][cpos[r.description]] = r
    envs = {r.env for r in results}
    render_env = len(envs) > 1
    env_len = max(len(e) for e in envs) if render_env else 0

    groups, group_of, separators, prior_threads, prior_env = [], [], [], None, ""
    for (threads, env, _), row in zip(row_keys, cells):
        new_group = threads != prior_threads
        if new_group:
            prior_threads, prior_env = threads, ""
            groups.append([])
        groups[-1].append(row)
        group_of.append(len(groups) - 1)
        separators.append((threads if new_group else None, render_env and env != prior_env))
        prior_env = env
    columns = [_Column([tuple(row[j] for row in g) for g in groups], scale, trim, highlight)
               for j in range(len(col_keys))]

    string_rows = [[""] + [c if c is not None else "" for c in col_keys]]
    for row, (_, show_env) in zip(cells, separators):
        first = next(r for r in row if r is not None)
        env = (f"({first.env})" if show_env else "").ljust(env_len + 4)
        out = ["  " + env + first.as_row_name]
        for m, col in zip(row, columns):
            out.append(col.num_to_str(None, 1, None) if m is None else
                       col.num_to_str(m.median / scale, m.significant_figures,
                                      m.iqr / m.median if m.has_warnings else None))
        string_rows.append(out)
    width = max(len(r) for r in string_rows)
    for r in string_rows:
        r.extend([""] * (width - len(r)))
    col_widths = [max(len(s) for s in col) for col in zip(*string_rows)]
    lines = ["  |  ".join(s.center(w) for s, w in zip(string_rows[0], col_widths))]
    overall = len(lines[0])
    for k, (strings, row) in enumerate(zip(string_rows[1:], cells)):
        threads = separators[k][0]
        if threads is not None:
            lines.append(f"{threads} threads: ".ljust(overall, "-"))
        if colorize is Colorize.ROWWISE:
            best = [min(r.median for r in row if r is not None)] * len(columns)
        elif colorize is Colorize.COLUMNWISE:
            best = [min((r.median for r in col.grouped_results[group_of[k]] if r is not None), default=None)
                    for col in columns]
        else:
            best = [None] * len(columns)
        contents = [strings[0].ljust(col_widths[0])]
        for s, w, m, b in zip(strings[1:], col_widths[1:], row, best):
            s = s.center(w)
            if colorize is not Colorize.NONE and m is not None and b is not None:
                s = _color(s, m.median, b)
            contents.append(s)
        lines.append("  |  ".join(contents))
    warn = highlight and any(r.has_warnings for r in results)
    label = f" {results[0].label or ''} "
    return (f"[{label.center(overall - 2, '-')}]\n" + "\n".join(lines) + "\n\n"
            f"Times are in {common.unit_to_english(unit)}s ({unit}).\n"
            + ("(! XX%) Measurement has high variance, where XX is the IQR / median * 100.\n" if warn else ""))


class Compare:
    """A table of ``results`` (Measurements) per label: ``print(Compare(results))``. Replicates
    of one task (same TaskSpec) are merged first."""

    def __init__(self, results) -> None:
        self._results: list = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = Colorize.NONE
        self._highlight_warnings = False

    def __str__(self) -> str:
        groups = collections.defaultdict(list)
        for r in common.Measurement.merge(self._results):
            groups[r.label].append(r)
        return "\n".join(_table(g, self._colorize, self._trim_significant_figures, self._highlight_warnings)
                         for g in groups.values())

    def extend_results(self, results) -> None:
        """Add ``results`` (each a Measurement) to the table."""
        for r in results:
            if not isinstance(r, common.Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} instead.")
        self._results.extend(results)

    def trim_significant_figures(self) -> None:
        """Print each time with the figures its spread supports."""
        self._trim_significant_figures = True

    def colorize(self, rowwise: bool = False) -> None:
        """Colour each time by how it compares with the best of its column (or row)."""
        self._colorize = Colorize.ROWWISE if rowwise else Colorize.COLUMNWISE

    def highlight_warnings(self) -> None:
        """Mark the times whose interquartile range is large: ``(! XX%)``."""
        self._highlight_warnings = True

    def print(self) -> None:
        print(str(self))
