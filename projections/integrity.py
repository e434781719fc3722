"""Integrity: does stored history still match the hash chain recorded when it was read?

`verify` recomputes every link from the stored event rows and compares it with
the audit projection's chain. The first position whose link differs — a row
altered, removed or reordered — is named; everything before it is intact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from projections.audit import GENESIS, HASH_SIZE, AuditProjection, link
from projections.envelopes import RawRow, read_raw, stream_key


@dataclass
class Verification:
    ok: bool
    checked: int
    first_bad_position: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked,
                "first_bad_position": self.first_bad_position}


def _recorded_links(audit: AuditProjection) -> Iterator[tuple[int, bytes]]:
    for positions, hashes in audit.chain_blocks():
        for i, position in enumerate(positions):
            yield position, hashes[i * HASH_SIZE:(i + 1) * HASH_SIZE]


def _stored_rows(audit: AuditProjection, batch: int) -> Iterator[RawRow]:
    after = 0
    while True:
        rows = read_raw(audit.db, audit.events_table, after, batch)
        if not rows:
            return
        yield from rows
        after = rows[-1].position


def verify(audit: AuditProjection, batch: int = 20_000) -> Verification:
    """Walk stored rows and recorded links side by side, in position order."""
    previous = GENESIS
    checked = 0
    links = _recorded_links(audit)
    for row in _stored_rows(audit, batch):
        recorded = next(links, None)
        if recorded is None:
            # Not yet hashed by the audit projection: nothing seen so far was wrong.
            return Verification(True, checked, None)
        position, recorded_hash = recorded
        if position != row.position:
            # A row missing (or inserted) here: the lower position is where they part.
            return Verification(False, checked, min(position, row.position))
        previous = link(previous, row.position, stream_key(row.originator_id), row.version,
                        row.topic, row.raw)
        if recorded_hash != previous:
            return Verification(False, checked, row.position)
        checked += 1
    leftover = next(links, None)
    # Links recorded for rows that no longer exist: history was cut short.
    return Verification(leftover is None, checked, leftover[0] if leftover else None)
