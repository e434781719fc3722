"""Many keys in one read: the list cut into statements each driver accepts.

Both the feed's reads of the event store (application/bulk_reads.py) and the
views' reads (projections/db.py) ask for rows by a list of keys that can run
to thousands; each statement carries at most `CHUNK` of them as placeholders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

K = TypeVar("K")

CHUNK = 500  # keys per statement: well below every driver's parameter limit


def chunks(keys: Sequence[K]) -> list[Sequence[K]]:
    return [keys[i:i + CHUNK] for i in range(0, len(keys), CHUNK)]
