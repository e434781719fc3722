"""Events as the read side sees them: position, stream, topic and decoded state.

Projections work on plain decoded dictionaries (no event objects) because a
rebuild reads millions of rows; old event shapes are upcast with the event
class's own `upcast_vN_vN+1` methods, exactly as the write side would. Rows
are read straight from the event table (one statement per batch) and each
batch is decoded once for every projection that follows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic

import domain.account_number
import domain.assignment
import domain.customer
import domain.manager
import domain.rulebooks  # noqa: F401 - registers every explicit topic before decoding
from application.transcoding import decode_state


@dataclass(frozen=True, slots=True)
class Envelope:
    position: int
    originator_id: str  # the stream id as stored (hex on SQLite, uuid text on PostgreSQL)
    version: int
    topic: str
    state: dict[str, Any]
    raw: bytes
    kind: str  # 'Customer/BalanceRecorded' from 'rmbook/Customer/BalanceRecorded'

    @property
    def on(self) -> date:
        value: date = self.state["on"]
        return value

    @property
    def recorded_at(self) -> datetime:
        value: datetime = self.state["timestamp"]
        return value


_class_versions: dict[str, tuple[int, Any]] = {}


def _class_version(topic: str) -> tuple[int, Any]:
    found = _class_versions.get(topic)
    if found is None:
        try:
            cls = resolve_topic(topic)
        except Exception:  # a topic this code does not know: leave the row as stored
            cls = None
        found = _class_versions[topic] = (getattr(cls, "class_version", 1), cls)
    return found


def upcast(topic: str, state: dict[str, Any]) -> dict[str, Any]:
    """Bring an old event's state up to its class's current version.

    A version-1 row carries no `class_version` at all (the library writes it only from
    version 2 on), so the class decides whether anything needs upcasting, not the row."""
    current, cls = _class_version(topic)
    stored = state.pop("class_version", 1)
    while stored < current:
        getattr(cls, f"upcast_v{stored}_v{stored + 1}")(state)
        stored += 1
    return state


def _kind(topic: str) -> str:
    return topic[7:] if topic.startswith("rmbook/") else topic


def stream_key(stream: Any) -> str:
    """One spelling of a stream id on both backends: 32 hex digits."""
    return stream.hex if isinstance(stream, UUID) else str(stream).replace("-", "")


def envelope(position: int, stream: Any, version: int, topic: str, raw: bytes) -> Envelope:
    state = decode_state(raw)
    if "class_version" in state or _class_version(topic)[0] > 1:
        state = upcast(topic, state)
    return Envelope(position, stream_key(stream), version, topic, state, raw, _kind(topic))


@dataclass(frozen=True, slots=True)
class RawRow:
    position: int
    originator_id: Any
    version: int
    topic: str
    raw: bytes


def read(recorder: Any, after: int, limit: int, stop: int | None = None) -> list[Envelope]:
    """The next `limit` events after position `after` (up to `stop`), decoded."""
    return [envelope(r.position, r.originator_id, r.version, r.topic, r.raw)
            for r in read_raw(recorder, after, limit, stop)]


def read_raw(recorder: Any, after: int, limit: int, stop: int | None = None) -> list[RawRow]:
    """The next `limit` stored rows after position `after` (up to `stop`), undecoded."""
    table = recorder.events_table_name
    datastore = recorder.datastore
    if hasattr(datastore, "schema"):  # PostgreSQL
        position, source, mark = "notification_id", f'"{datastore.schema}"."{table}"', "%s"
    else:
        position, source, mark = "rowid", table, "?"
    statement = (f"SELECT {position}, originator_id, originator_version, topic, state "
                 f"FROM {source} WHERE {position} > {mark}")
    params: list[Any] = [after]
    if stop is not None:
        statement += f" AND {position} <= {mark}"
        params.append(stop)
    statement += f" ORDER BY 1 LIMIT {mark}"
    params.append(limit)
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, params)
        # PostgreSQL's datastore returns dict rows; the SELECT fixes the column order.
        rows = [tuple(r.values()) if isinstance(r, dict) else r for r in cursor.fetchall()]
    return [RawRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]


def stream(recorder: Any, after: int = 0, batch: int = 2000,
           stop: int | None = None) -> Iterator[list[Envelope]]:
    while True:
        envelopes = read(recorder, after, batch, stop)
        if not envelopes:
            return
        yield envelopes
        after = envelopes[-1].position
