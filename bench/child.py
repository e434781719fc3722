"""What the bench's measuring processes share: running work in a fresh process,
profiling it, and turning progress marks into a rate series."""

from __future__ import annotations

import cProfile
import multiprocessing
import pstats
import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def in_child(target: Callable[..., None], args: tuple[Any, ...], what: str) -> Any:
    """Run `target(*args, results)` in a spawned process (it starts empty: its memory and
    its timings are its own) and return what it puts on `results`. A child that dies
    without answering is an error, never a hang."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=target, args=(*args, results))
    child.start()
    while True:
        try:
            found = results.get(timeout=1.0)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"{what} failed in its process (exit {child.exitcode})") \
                    from None
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"{what} failed in its process (exit {child.exitcode})")
    return found


@contextmanager
def profiled(path: Path | None) -> Iterator[None]:
    """With a path: cProfile what runs inside and write its top 40 there (by own time)."""
    if path is None:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(40)


def rate_series(marks: list[tuple[int, float]], key: str,
                points: int = 20) -> list[dict[str, float]]:
    """From (events done, seconds) marks: the rate over successive slices of about
    1/`points` of the events, against the events done (`key`) — does the cost per event
    grow as the store does?"""
    found: list[dict[str, float]] = []
    total = marks[-1][0] if marks else 0
    step = max(1, total // points)
    mark, last_done, last_seconds = step, 0, 0.0
    for done, seconds in marks:
        if done >= mark and seconds > last_seconds:
            found.append({key: done,
                          "events_per_s": round((done - last_done) / (seconds - last_seconds))})
            last_done, last_seconds = done, seconds
            mark = done + step
    return found
