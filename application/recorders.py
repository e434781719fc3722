"""The library's event recorders, with bulk inserts for large batches (ADR 0010).

eventsourcing 9.5 inserts row by row on SQLite (one `execute` per event, to
read each `lastrowid`) and, on PostgreSQL, sends one `INSERT … unnest(array)`
through a pipeline that deadlocks when a batch carries tens of thousands of
events. These subclasses keep the library's table, locking and notification
semantics and change only how rows travel:

- SQLite: one `executemany` per batch. Inside the write transaction no other
  connection can insert, and each new rowid is one more than the largest, so
  the batch's positions are the `len(batch)` ids ending at `last_insert_rowid()`.
- PostgreSQL: batches of `COPY_FROM` events or more are copied with binary
  `COPY` after the library's own `LOCK TABLE … IN EXCLUSIVE MODE` and
  `NOTIFY`. The lock serialises every inserter, so the batch's positions are
  the ones ending at the sequence's `currval`. Smaller batches (a command's
  few events) keep the library's pipelined insert, which needs fewer round trips.
- PostgreSQL, a night's balance feed: `CopyStream` copies each event as the
  feed decides it, in one such transaction committed once the whole file is
  decided (ADR 0028).

On SQLite the WAL checkpoint that a commit would run before returning runs in
a background thread instead (application/checkpoints.py, ADR 0015).

Every event still goes through the event store: same rows, same columns, same
uniqueness check on (stream, version), same notification ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any, overload
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg import Copy, Cursor, Rollback
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from application.checkpoints import BackgroundCheckpoints

COPY_FROM = 64  # events: below this the library's pipelined INSERT is faster than COPY


class EncodedAsRead(Sequence[StoredEvent]):
    """Domain events that become stored events as the recorder reads them.

    A batch encoded whole and then copied leaves PostgreSQL idle while Python
    encodes, and Python idle while PostgreSQL inserts and indexes. Encoded as
    `COPY` reads them, the rows already sent are inserted on the other core
    while the next ones are encoded. And each encoded state is freed once sent:
    a night of them held whole made every `orjson.dumps` cost twice as much in
    the allocator (2.8 → 5.8 µs an event, measured). Reading it again (a retried
    insert) encodes again: the same events give the same rows."""

    def __init__(self, events: Sequence[Any], encode: Callable[[Any], StoredEvent]) -> None:
        self._events = events
        self._encode = encode

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[StoredEvent]:
        return map(self._encode, self._events)

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[StoredEvent]: ...

    def __getitem__(self, index: int | slice) -> StoredEvent | Sequence[StoredEvent]:
        if isinstance(index, slice):
            return [self._encode(event) for event in self._events[index]]
        return self._encode(self._events[index])


def _hex(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


class BulkSQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checkpoints = BackgroundCheckpoints.for_file(self.datastore.pool.db_name)

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        positions = super().insert_events(stored_events, **kwargs)
        if self.checkpoints is not None and stored_events:
            self.checkpoints.written(len(stored_events))  # committed: checkpoint off our path
        return positions

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **_: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        if self.checkpoints is not None:
            c.execute("PRAGMA wal_autocheckpoint=0")  # per connection; the pool makes more
        # Rows as SQLite steps through them: each encoded event is freed once bound
        c.executemany(self.insert_events_statement,
                      ((_hex(s.originator_id), s.originator_version, s.topic, s.state)
                       for s in stored_events))
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        return list(range(last - len(stored_events) + 1, last + 1))


class BulkPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                    Identifier(self.events_table_name))
        self.copy_statement = SQL(
            "COPY {} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)").format(table)
        self.last_id_statement = SQL("SELECT currval(pg_get_serial_sequence({}, "
                                     "'notification_id')) AS last").format(
            f'"{self.datastore.schema}"."{self.events_table_name}"')

    def copy_stream(self, encode: Callable[[Any], StoredEvent]) -> CopyStream:
        return CopyStream(self, encode)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        if len(stored_events) < COPY_FROM:
            inserted: Sequence[int] | None = super().insert_events(list(stored_events), **kwargs)
            return inserted
        # get_connection() turns psycopg's errors into the library's (IntegrityError …).
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            with curs.copy(self.copy_statement) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for s in stored_events:
                    copy.write_row((s.originator_id, s.originator_version, s.topic, s.state))
            curs.execute(self.last_id_statement)
            row = curs.fetchone()
            assert row is not None
            last = int(row["last"])
        return list(range(last - len(stored_events) + 1, last + 1))


class CopyStream:
    """Events copied into the event table one by one, as they are decided (ADR 0028).

    The balance feed decides a night's rows in Python; the server inserts and
    indexes them. Written in turn, each waits for the other. Streamed, the rows
    already sent are inserted on the other core while Python decides the next.
    The transaction — the library's table lock and `NOTIFY`, then one binary
    `COPY` — opens at the first event, so a file that changes nothing takes no
    lock. Nothing is visible until `commit()`; `close()` without it rolls back.
    Errors are the library's (`OperationalError` for a lost connection …), as
    from its own recorder."""

    def __init__(self, recorder: BulkPostgresRecorder,
                 encode: Callable[[Any], StoredEvent]) -> None:
        self._recorder = recorder
        self._encode = encode
        self._stack: ExitStack | None = None  # connection, transaction, cursor, then the copy
        self._copying: ExitStack | None = None  # the copy alone, ended before the commit
        self._copy: Copy | None = None
        self._cursor: Cursor[DictRow] | None = None
        self.count = 0  # events written

    def write(self, event: Any) -> None:
        copy = self._copy if self._copy is not None else self._open()
        s = self._encode(event)
        try:
            copy.write_row((s.originator_id, s.originator_version, s.topic, s.state))
        except psycopg.Error as e:
            self._fail(e)
        self.count += 1

    def _fail(self, error: psycopg.Error) -> None:
        """End the transaction with an error raised while sending: thrown into its contexts
        as if raised inside them, so the copy fails, the transaction rolls back and the
        library's connection context raises it as its own (`OperationalError` …)."""
        stack = self._stack
        self._stack = self._copying = self._copy = None
        if stack is None or not stack.__exit__(type(error), error, error.__traceback__):
            raise error

    def _open(self) -> Copy:
        recorder = self._recorder
        with ExitStack() as stack:
            conn = stack.enter_context(recorder.datastore.get_connection())
            stack.enter_context(conn.transaction())
            cursor = self._cursor = stack.enter_context(conn.cursor())
            recorder._lock_table(cursor)
            recorder._notify_channel(cursor)
            # A copy holds psycopg's lock on the connection until it ends: it is ended
            # first, before the transaction is left either way.
            copying = stack.enter_context(ExitStack())
            copy = copying.enter_context(cursor.copy(recorder.copy_statement))
            copy.set_types(["uuid", "int8", "text", "bytea"])
            self._copying, self._copy, self._stack = copying, copy, stack.pop_all()
        return copy

    def commit(self) -> list[int]:
        """End the copy and commit; the positions of the events written, in order."""
        stack, copying, cursor = self._stack, self._copying, self._cursor
        self._stack = self._copying = self._copy = None
        if stack is None or copying is None or cursor is None:
            return []
        with stack:  # an error below leaves it with the error: rolled back
            copying.close()  # the last rows sent; the server's errors surface here
            cursor.execute(self._recorder.last_id_statement)
            row = cursor.fetchone()
            assert row is not None
            last = int(row["last"])
        return list(range(last - self.count + 1, last + 1))

    def close(self) -> None:
        """Roll back whatever was written and not committed (nothing, after `commit`)."""
        stack = self._stack
        self._stack = self._copying = self._copy = None
        if stack is None:
            return
        try:
            with stack:  # the copy fails, then the transaction rolls back
                raise Rollback
        except Rollback:  # not swallowed when the connection is already broken
            pass

    def __enter__(self) -> CopyStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
