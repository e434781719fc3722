"""Projecting the whole store, measured in a process of its own.

A child process (spawned, so it starts empty) opens the store and either
projects it from nothing (the first catch-up) or rebuilds every projection
side by side with the diff, as `rmbook rebuild` does. Its peak resident memory
is then the projection work's own, not the loader's that ran before it.
"""

from __future__ import annotations

import cProfile
import multiprocessing
import pstats
import queue
import time
from typing import Any

from application import gc_tuning
from bench import baselines


def _work(database_url: str, what: str, results: Any, profile: str | None) -> None:
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

    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    if what == "project":
        projector.catch_up_all(progress=progress)
    else:
        rebuild(projector, progress=progress)
    seconds = time.perf_counter() - began
    if profiler is not None and profile:
        profiler.disable()
        with open(profile, "w") as out:
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
    projector.close()
    bank.close()
    results.put({"events": events, "seconds": seconds, "marks": marks,
                 "peak_rss_mib": baselines.peak_rss_mib()})


def measure(database_url: str, what: str, profile: str | None = None) -> dict[str, Any]:
    """Run `what` ("project" from nothing, or "rebuild") in a fresh process; its figures.
    With `profile`, a cProfile summary of the work is written there (slower: not timed)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_work, args=(database_url, what, results, profile))
    child.start()
    while True:
        try:
            found: dict[str, Any] = results.get(timeout=1.0)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"{what} failed in its process (exit {child.exitcode})") \
                    from None
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"{what} failed in its process (exit {child.exitcode})")
    return found


def series(marks: list[tuple[int, float]], points: int = 20) -> list[dict[str, float]]:
    """Rate over successive slices of the sequence, against the position reached."""
    found: list[dict[str, float]] = []
    total = marks[-1][0] if marks else 0
    step = max(1, total // points)
    mark, last_done, last_seconds = step, 0, 0.0
    for done, seconds in marks:
        if done >= mark and seconds > last_seconds:
            found.append({"events_read": done,
                          "events_per_s": round((done - last_done) / (seconds - last_seconds))})
            last_done, last_seconds = done, seconds
            mark = done + step
    return found
