"""Reading many aggregates in one round trip, for the balance feed.

The library's repository reads one aggregate per query. A nightly feed
touches every customer, so the feed path asks the store for many streams at
once: the events of those not warm, and which streams moved since a position
(to keep warm ones fresh by reading only what was written since).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
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


def stream_key(stream: Any) -> str:
    """One spelling of a stream id on both backends: 32 hex digits."""
    return stream.hex if isinstance(stream, UUID) else str(stream).replace("-", "")


def moved_since(recorder: Any, after: int, upto: int,
                chunk: int = 50_000) -> Iterator[tuple[int, str, int]]:
    """(position, stream key, version) of every event stored after `after` up to `upto`."""
    table = recorder.events_table_name
    datastore = recorder.datastore
    if hasattr(datastore, "schema"):  # PostgreSQL
        statement = (f'SELECT notification_id, originator_id, originator_version FROM '
                     f'"{datastore.schema}"."{table}" WHERE notification_id > %s AND '
                     f'notification_id <= %s ORDER BY notification_id LIMIT %s')
    else:
        statement = (f"SELECT rowid, originator_id, originator_version FROM {table} "
                     f"WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?")
    while after < upto:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (after, upto, chunk))
            rows = [tuple(r.values()) if isinstance(r, dict) else tuple(r)
                    for r in cursor.fetchall()]
        if not rows:
            return
        for position, stream, version in rows:
            yield position, stream_key(stream), version
        after = rows[-1][0]


def stored_at(recorder: Any, positions: Sequence[int]) -> list[StoredEvent]:
    """The stored events at these positions, in position order."""
    table = recorder.events_table_name
    datastore = recorder.datastore
    found: list[StoredEvent] = []
    for i in range(0, len(positions), CHUNK):
        chunk = positions[i:i + CHUNK]
        if hasattr(datastore, "schema"):  # PostgreSQL
            statement = (f'SELECT notification_id, originator_id, originator_version, topic, '
                         f'state FROM "{datastore.schema}"."{table}" WHERE notification_id '
                         f'IN ({",".join(["%s"] * len(chunk))})')
        else:
            statement = (f"SELECT rowid, originator_id, originator_version, topic, state "
                         f"FROM {table} WHERE rowid IN ({','.join('?' * len(chunk))})")
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, list(chunk))
            rows = sorted(tuple(r.values()) if isinstance(r, dict) else tuple(r)
                          for r in cursor.fetchall())
        found += [StoredEvent(_uuid(r[1]), r[2], r[3], bytes(r[4])) for r in rows]
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
