"""Garbage-collector thresholds for processes that make millions of short-lived objects.

CPython's default (a collection every 700 net allocations) runs the cyclic
collector thousands of times during a feed import or a rebuild, and its older
generations re-walk everything long-lived: warm customers, projection state.
The objects on those paths form no reference cycles (reference counting frees
them), so collecting less often costs little memory and saves a fifth to a
third of the time of a bulk import (docs/performance.md). Set once per
process, by the CLI and the HTTP app factory.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 100)


def relax() -> None:
    gc.set_threshold(*THRESHOLDS)


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside (a long catch-up: millions of acyclic objects, and
    each older-generation pass re-walks the pending state — 14 % of a bank rebuild);
    whatever cycles arose are collected on the way out. Nested or concurrent pauses
    keep the collector off until the last one ends."""
    global _pauses
    with _lock:
        _pauses += 1
        if _pauses == 1:
            _was_enabled[0] = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            resume = _pauses == 0 and _was_enabled[0]
            if resume:
                gc.enable()
        if resume:
            gc.collect()


_lock = threading.Lock()
_pauses = 0
_was_enabled = [True]
