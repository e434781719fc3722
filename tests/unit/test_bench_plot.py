"""The rebuild's rate curve merges slices into windows of at least a second (bench/plot.py):
the same events in the same time, with no jump plotted as millions of events a second."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bench.plot import _windows


def _seconds(series: list[dict[str, Any]]) -> float:
    start, total = 0, 0.0
    for point in series:
        total += (point["events_read"] - start) / point["events_per_s"]
        start = point["events_read"]
    return total


slices = st.lists(st.tuples(st.integers(1, 400_000), st.floats(1_000, 6_000_000)),
                  min_size=1, max_size=30)


@given(slices)
def test_windows_keep_the_events_and_the_time(parts: list[tuple[int, float]]) -> None:
    series, at = [], 0
    for events, rate in parts:
        at += events
        series.append({"events_read": at, "events_per_s": rate})
    merged = _windows(series, "events_read")
    assert merged[-1]["events_read"] == at
    assert abs(_seconds(merged) - _seconds(series)) <= 1e-9 * max(1.0, _seconds(series))
    if _seconds(series) >= 1.0:  # every window spans a second, the last one included
        starts = [0] + [m["events_read"] for m in merged[:-1]]
        for point, start in zip(merged, starts, strict=True):
            assert (point["events_read"] - start) / point["events_per_s"] >= 1.0 - 1e-9


def test_a_jump_of_the_lesser_progress_joins_its_window() -> None:
    series = [{"events_read": 100_000, "events_per_s": 50_000},  # 2 s
              {"events_read": 300_000, "events_per_s": 6_000_000},  # a jump: 33 ms
              {"events_read": 400_000, "events_per_s": 100_000}]  # 1 s
    merged = _windows(series, "events_read")
    assert [p["events_read"] for p in merged] == [100_000, 400_000]
    assert merged[1]["events_per_s"] < 300_000  # 300,000 events in 1.033 s
