"""Integrity: does stored history still match the hash chain recorded when it was read?

`verify` recomputes every link from the stored event rows and compares it with
the audit projection's chain. The first position whose link differs — a row
altered, removed or reordered — is named; everything before it is intact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections.audit import GENESIS, link
from projections.db import ViewDatabase
from projections.envelopes import read_raw, stream_key


@dataclass
class Verification:
    ok: bool
    checked: int
    first_bad_position: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked,
                "first_bad_position": self.first_bad_position}


def verify(recorder: Any, db: ViewDatabase, chain_table: str, batch: int = 5000) -> Verification:
    """Walk stored rows and recorded links side by side, in position order."""
    previous = GENESIS
    checked = 0
    after = 0
    while True:
        rows = envelopes_rows(recorder, after, batch)
        hashed = db.fetchall(f"SELECT position, hash FROM {chain_table} WHERE position > ? "
                             "ORDER BY position LIMIT ?", (after, batch))
        if not rows:
            # Links recorded for rows that no longer exist: history was cut short.
            return Verification(not hashed, checked, hashed[0][0] if hashed else None)
        for (position, stream, version, topic, state), link_row in zip(
                rows, [*hashed, *([None] * (len(rows) - len(hashed)))], strict=False):
            if link_row is None:
                # Not yet hashed by the audit projection: nothing seen so far was wrong.
                return Verification(True, checked, None)
            if link_row[0] != position:
                # A row missing (or inserted) here: the lower position is where they part.
                return Verification(False, checked, min(link_row[0], position))
            previous = link(previous, position, stream_key(stream), version, topic, state)
            if bytes(link_row[1]) != previous:
                return Verification(False, checked, position)
            checked += 1
        after = rows[-1][0]
        if len(hashed) > len(rows) and len(rows) < batch:
            # Rows gone from the end of history.
            return Verification(False, checked, hashed[len(rows)][0])


def envelopes_rows(recorder: Any, after: int, limit: int) -> list[tuple[int, Any, int, str, bytes]]:
    """Stored rows after a position, undecoded: (position, stream, version, topic, state)."""
    return [(e.position, e.originator_id, e.version, e.topic, e.raw)
            for e in read_raw(recorder, after, limit)]
