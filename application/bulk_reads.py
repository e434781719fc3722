"""Reading many aggregates in one round trip, for the balance feed.

The library's repository reads one aggregate per query. A nightly feed
touches every customer, so the feed path asks the store for many streams at
once: the events of those not warm, and which streams moved since a position
(to keep warm ones fresh by reading only what was written since).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg.rows import tuple_row

from application.key_lists import chunks


class _Table:
    """How one backend spells the event table: its name, position column, placeholder."""

    def __init__(self, recorder: Any) -> None:
        self.datastore = recorder.datastore
        self.postgres = hasattr(self.datastore, "schema")
        table = recorder.events_table_name
        self.name = f'"{self.datastore.schema}"."{table}"' if self.postgres else table
        self.position = "notification_id" if self.postgres else "rowid"
        self.mark = "%s" if self.postgres else "?"

    def marks(self, n: int) -> str:
        return ",".join([self.mark] * n)

    def rows(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as cursor:
            if self.postgres:
                # The library's connections build a dict per row; a feed's freshness check
                # reads thousands of rows a night, and the dicts cost more than the query.
                cursor.row_factory = tuple_row
                # These read a few streams or positions by index. When the table's statistics
                # lag its growth, the planner expects thousands of rows per stream and runs a
                # few-row read with parallel workers and JIT compilation: a night's cold
                # loads of ~7 new customers grew from 2 ms to 50 ms over the bank year.
                cursor.execute("SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute(statement, list(params))
            return [tuple(r) for r in cursor.fetchall()]


def _query(recorder: Any, template: str, ids: Sequence[UUID]) -> list[Any]:
    """Run `template` (with `{ids}` and `{table}`) over a chunk of stream ids."""
    table = _Table(recorder)
    statement = template.format(ids=table.marks(len(ids)), table=table.name)
    # PostgreSQL: a uuid column; SQLite: ids stored as hex text
    return table.rows(statement, list(ids) if table.postgres else [i.hex for i in ids])


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def stream_key(stream: Any) -> str:
    """One spelling of a stream id on both backends: 32 hex digits."""
    return stream.hex if isinstance(stream, UUID) else str(stream).replace("-", "")


def moved_since(recorder: Any, after: int, upto: int,
                chunk: int = 50_000) -> Iterator[tuple[int, str, int]]:
    """(position, stream key, version) of every event stored after `after` up to `upto`."""
    table = _Table(recorder)
    m, position = table.mark, table.position
    statement = (f"SELECT {position}, originator_id, originator_version FROM {table.name} "
                 f"WHERE {position} > {m} AND {position} <= {m} ORDER BY {position} LIMIT {m}")
    while after < upto:
        rows = table.rows(statement, (after, upto, chunk))
        if not rows:
            return
        for position_, stream, version in rows:
            yield position_, stream_key(stream), version
        after = rows[-1][0]


def stored_at(recorder: Any, positions: Sequence[int]) -> list[StoredEvent]:
    """The stored events at these positions, in position order."""
    table = _Table(recorder)
    found: list[StoredEvent] = []
    for chunk in chunks(positions):
        rows = sorted(table.rows(
            f"SELECT {table.position}, originator_id, originator_version, topic, state "
            f"FROM {table.name} WHERE {table.position} IN ({table.marks(len(chunk))})", chunk))
        found += [StoredEvent(_uuid(r[1]), r[2], r[3], bytes(r[4])) for r in rows]
    return found


def stored_streams(recorder: Any, ids: Sequence[UUID], after: Mapping[UUID, int]
                   ) -> dict[UUID, list[StoredEvent]]:
    """The stored events of each stream past its version in `after` (0 when absent: all of
    them), in version order: what follows each stream's snapshot."""
    streams: dict[UUID, list[StoredEvent]] = defaultdict(list)
    table = _Table(recorder)
    for chunk in chunks(ids):
        if table.postgres:
            # Each stream with its own lower bound, one index range each. `OFFSET 0` keeps
            # the planner from flattening the LATERAL read into a join: flattened, it hashed
            # the streams asked for and scanned the whole event table for them (ten new
            # customers, 115 ms at 570,000 events, growing with the store; 0.65 ms fenced).
            statement = (f"SELECT s.id, e.originator_version, e.topic, e.state "
                         "FROM unnest(%s::uuid[], %s::int[]) WITH ORDINALITY AS s(id, v, n) "
                         f"CROSS JOIN LATERAL (SELECT originator_version, topic, state "
                         f"FROM {table.name} WHERE originator_id = s.id "
                         "AND originator_version > s.v OFFSET 0) AS e "
                         "ORDER BY s.n, e.originator_version")
            params: list[Any] = [list(chunk), [after.get(i, 0) for i in chunk]]
        else:
            pairs = ",".join(["(?,?)"] * len(chunk))
            statement = (f"WITH s(id, v) AS (VALUES {pairs}) "
                         f"SELECT e.originator_id, e.originator_version, e.topic, e.state "
                         f"FROM s JOIN {table.name} AS e "
                         "ON e.originator_id = s.id AND e.originator_version > s.v "
                         "ORDER BY e.originator_id, e.originator_version")
            params = [x for i in chunk for x in (i.hex, after.get(i, 0))]
        for row in table.rows(statement, params):
            stream = _uuid(row[0])
            streams[stream].append(StoredEvent(stream, row[1], row[2], bytes(row[3])))
    return streams
