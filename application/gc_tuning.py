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

THRESHOLDS = (50_000, 20, 100)


def relax() -> None:
    gc.set_threshold(*THRESHOLDS)
