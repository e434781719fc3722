"""Reading many aggregates in one round trip, for the balance feed.

The library's repository reads one aggregate per query. A nightly feed
touches every customer, so the feed path asks the store for many streams at
once: their current versions (to check a warm cache is still fresh) and,
for those not warm, their events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

CHUNK = 500  # ids per statement: well below every driver's parameter limit


def _chunks(ids: Sequence[UUID]) -> list[Sequence[UUID]]:
    return [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _query(recorder: Any, template: str, ids: Sequence[UUID]) -> list[Any]:
    """Run `template` (with `{ids}` and `{table}`) over a chunk of stream ids."""
    table = recorder.events_table_name
    datastore = recorder.datastore
    if hasattr(datastore, "schema"):  # PostgreSQL: uuid column, %s placeholders
        marks = ",".join(["%s"] * len(ids))
        statement = template.format(ids=marks, table=f'"{datastore.schema}"."{table}"')
        params: list[Any] = list(ids)
    else:  # SQLite: ids stored as hex text
        marks = ",".join("?" * len(ids))
        statement = template.format(ids=marks, table=table)
        params = [i.hex for i in ids]
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, params)
        # PostgreSQL's datastore returns dict rows; the SELECT fixes the column order.
        return [tuple(r.values()) if isinstance(r, dict) else r for r in cursor.fetchall()]


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def current_versions(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
    found: dict[UUID, int] = {}
    for chunk in _chunks(ids):
        for row in _query(recorder, "SELECT originator_id, MAX(originator_version) FROM {table} "
                          "WHERE originator_id IN ({ids}) GROUP BY originator_id", chunk):
            found[_uuid(row[0])] = int(row[1])
    return found


def stored_streams(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
    streams: dict[UUID, list[StoredEvent]] = defaultdict(list)
    for chunk in _chunks(ids):
        for row in _query(recorder, "SELECT originator_id, originator_version, topic, state "
                          "FROM {table} WHERE originator_id IN ({ids}) "
                          "ORDER BY originator_id, originator_version", chunk):
            stream = _uuid(row[0])
            streams[stream].append(StoredEvent(stream, row[1], row[2], bytes(row[3])))
    return streams
