"""Customer snapshots in the library's snapshot table, many at a time (ADR 0024).

The feed reads the latest snapshot of many customers in one statement per chunk,
and writes the snapshots its cold loads took. A snapshot is a cache of the fold
at its version, so writing one where a row at that (customer, version) exists
replaces it: both describe the same events, and the newer is in the current
format (a stale snapshot at a customer's current version would otherwise block
every rewrite). A read or a write that fails is logged and dropped: an import
never fails for want of a cache.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError, StoredEvent

from application.bulk_reads import _query, _Table, _uuid, stream_key
from application.key_lists import chunks

log = logging.getLogger(__name__)


def latest_snapshots(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, StoredEvent]:
    """Each stream's latest snapshot, if it has one (`recorder`: the snapshot store's)."""
    table = _Table(recorder)
    found: dict[UUID, StoredEvent] = {}
    for chunk in chunks(ids):
        if table.postgres:
            template = ("SELECT DISTINCT ON (originator_id) originator_id, originator_version, "
                        "topic, state FROM {table} WHERE originator_id IN ({ids}) "
                        "ORDER BY originator_id, originator_version DESC")
        else:  # SQLite: a bare column beside max() comes from the row holding the max
            template = ("SELECT originator_id, max(originator_version), topic, state "
                        "FROM {table} WHERE originator_id IN ({ids}) GROUP BY originator_id")
        try:
            rows = _query(recorder, template, chunk)
        except (PersistenceError, OSError) as e:  # a cache unread: the events alone will do
            log.warning("customer snapshots not read (%d customers): %s", len(chunk), e)
            continue
        for row in rows:
            stream = _uuid(row[0])
            found[stream] = StoredEvent(stream, row[1], row[2], bytes(row[3]))
    return found


def put_snapshots(recorder: Any, snapshots: Sequence[StoredEvent]) -> int:
    """Write `snapshots`, each replacing any row at its (stream, version); how many were
    written (0 when the write failed: logged, never raised)."""
    table = _Table(recorder)
    columns = "(originator_id, originator_version, topic, state)"
    if table.postgres:
        statement = (f"INSERT INTO {table.name} {columns} VALUES (%s, %s, %s, %s) "
                     "ON CONFLICT (originator_id, originator_version) "
                     "DO UPDATE SET topic = excluded.topic, state = excluded.state")
    else:
        statement = f"INSERT OR REPLACE INTO {table.name} {columns} VALUES (?, ?, ?, ?)"
    written = 0
    for chunk in chunks(snapshots):  # bounded statements, each its own transaction
        rows = [(s.originator_id if table.postgres else stream_key(s.originator_id),
                 s.originator_version, s.topic, s.state) for s in chunk]
        try:
            with recorder.datastore.transaction(commit=True) as cursor:
                cursor.executemany(statement, rows)
            written += len(rows)
        except (PersistenceError, OSError) as e:
            log.warning("customer snapshots not written (%d of them): %s", len(rows), e)
    return written
