"""Projecting the whole store, measured in a process of its own.

A child process (spawned, so it starts empty) opens the store and either
projects it from nothing (the first catch-up) or rebuilds every projection
side by side with the diff, as `rmbook rebuild` does. Its peak resident memory
is then the projection work's own, not the loader's that ran before it. A rebuild
that builds the audit in a process of its own (ADR 0018) counts that process's peak
too, added to this one's: an upper bound, as the two peaks need not coincide.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from application import gc_tuning
from bench import baselines
from bench.child import in_child, profiled, rate_series


def _work(database_url: str, what: str, profile: str | None, results: Any) -> None:
    gc_tuning.relax()  # as every rmbook process does
    from application.service import BookOfBusiness
    from application.settings import Settings
    from projections.rebuild import rebuild
    from projections.runner import Projector

    bank = BookOfBusiness(Settings(database_url=database_url))
    projector = Projector(bank)  # as `rmbook rebuild` runs it
    events = bank.max_position()
    marks: list[tuple[int, float]] = []
    began = time.perf_counter()

    def progress(done: int, _total: int) -> None:
        marks.append((done, time.perf_counter() - began))

    with profiled(Path(profile) if profile else None):
        if what == "project":
            projector.catch_up_all(progress=progress)
        else:
            rebuild(projector, progress=progress)
        seconds = time.perf_counter() - began  # before the profile is written
    projector.close()
    bank.close()
    # ru_maxrss of a spawned child starts at its parent's size when it forked (see
    # baselines.peak_rss_mib): at worst this overstates the child's own peak.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    results.put({"events": events, "seconds": seconds, "marks": marks,
                 "peak_rss_mib": baselines.peak_rss_mib() + children,
                 "peak_rss_children_mib": children})


def measure(database_url: str, what: str, profile: str | None = None) -> dict[str, Any]:
    """Run `what` ("project" from nothing, or "rebuild") in a fresh process; its figures.
    With `profile`, a cProfile summary of the work is written there (slower: not timed)."""
    found: dict[str, Any] = in_child(_work, (database_url, what, profile), what)
    return found


def series(marks: list[tuple[int, float]]) -> list[dict[str, float]]:
    """Rebuild rate over successive slices of the sequence, against the events read."""
    return rate_series(marks, "events_read")
