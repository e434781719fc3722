"""Events as the read side sees them: position, stream, topic and decoded state.

Projections work on plain decoded dictionaries (no event objects) because a
rebuild reads millions of rows; old event shapes are upcast with the event
class's own `upcast_vN_vN+1` methods, exactly as the write side would. Rows
are read straight from the event table (one statement per batch) and each
batch is decoded once for every projection that follows it.

The recorded instant (`timestamp`) stays the ISO text it is stored as: most
projections never look at it, and parsing millions of them was a measurable
share of a rebuild; `recorded_at` parses it on demand.

A read may leave the rows of some topics undecoded (`state` is `UNDECODED`):
topics no projection reading the batch looks inside — in a long catch-up the
balances, which the audit only hashes and the book copies in the database
(ADR 0016). When the audit is built in a process of its own (ADR 0018), the
book's read skips those rows altogether: a batch then says how far it `covers`,
which may be past its last row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson
from eventsourcing.utils import resolve_topic

import domain.account_number
import domain.assignment
import domain.customer
import domain.manager
import domain.rulebooks  # noqa: F401 - registers every explicit topic before decoding
from application.bulk_reads import stream_key
from application.transcoding import decode_state
from domain.dating import parse_date
from projections.db import ViewDatabase

__all__ = ["UNDECODED", "Batch", "Envelope", "RawRow", "envelope", "kind_of", "read", "read_raw", "stream",
           "stream_key", "upcast"]

# The state of a row read undecoded: empty and read-only, told apart by identity.
UNDECODED: dict[str, Any] = MappingProxyType({})  # type: ignore[assignment]


class Envelope(NamedTuple):
    """One stored event, decoded (a named tuple: a rebuild makes millions)."""

    position: int
    originator_id: str  # the stream id as 32 hex digits, on both backends
    version: int
    topic: str
    state: dict[str, Any]  # `timestamp` left as its stored ISO text
    raw: bytes
    kind: str  # 'Customer/BalanceRecorded' from 'rmbook/Customer/BalanceRecorded'

    @property
    def on(self) -> date:
        value: date = self.state["on"]
        return value

    @property
    def recorded_at(self) -> datetime:
        return datetime.fromisoformat(self.state["timestamp"])


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


_kinds: dict[str, str] = {}


def kind_of(topic: str) -> str:
    """'Customer/BalanceRecorded' from the topic 'rmbook/Customer/BalanceRecorded'."""
    found = _kinds.get(topic)
    if found is None:
        found = _kinds[topic] = topic[7:] if topic.startswith("rmbook/") else topic
    return found


def _decode(raw: bytes) -> dict[str, Any]:
    """The stored state with tagged values decoded, except the recorded instant.

    Nearly every event carries exactly two tagged values, its business date `on` and
    its recorded instant; those are handled without walking the state. Anything else
    tagged (counted in the raw bytes) takes the general decoder."""
    state = orjson.loads(raw)
    if type(state) is not dict:
        return _decode_all(raw)
    tags = raw.count(b'"_type_"')
    instant = state.get("timestamp")
    if type(instant) is dict and instant.get("_type_") == "datetime_iso":
        state["timestamp"] = instant["_data_"]
        tags -= 1
    on = state.get("on")
    if type(on) is dict and on.get("_type_") == "date_iso":
        state["on"] = parse_date(on["_data_"])
        tags -= 1
    return state if tags == 0 else _decode_all(raw)


def _decode_all(raw: bytes) -> dict[str, Any]:
    state: dict[str, Any] = decode_state(raw)
    if isinstance(state.get("timestamp"), datetime):
        state["timestamp"] = state["timestamp"].isoformat()
    return state


def envelope(position: int, stream: Any, version: int, topic: str, raw: bytes) -> Envelope:
    """One stored row as an envelope, decoded (and upcast to its class's version)."""
    state = _decode(raw)
    if "class_version" in state or _class_version(topic)[0] > 1:
        state = upcast(topic, state)
    return Envelope(position, stream_key(stream), version, topic, state, raw, kind_of(topic))


class Batch(list[Envelope]):
    """The events of one read; the position up to which the read covered the store (its
    last row's, or further when rows of skipped topics follow it up to where the read
    stopped); and whether rows of some topics were `skipped`."""

    def __init__(self, rows: list[Envelope], covers: int, skipped: bool = False) -> None:
        super().__init__(rows)
        self.covers = covers
        self.skipped = skipped


class RawRow(NamedTuple):
    position: int
    originator_id: Any
    version: int
    topic: str
    raw: bytes


def read(db: ViewDatabase, table: str, after: int, limit: int,
         stop: int | None = None, undecoded: Mapping[str, bool] | None = None,
         skip: Collection[str] = ()) -> Batch:
    """The next `limit` events after position `after` (up to `stop`), decoded except the
    rows whose topic `undecoded` marks. Rows of the topics in `skip` are not read at all
    (only with a `stop`: a short read then covers the store up to it)."""
    rows = _rows(db, table, after, limit, stop, skip)
    covers = rows[-1][0] if rows else after
    if skip and stop is not None and len(rows) < limit:
        covers = stop  # the skipped rows after the last one read, up to the stop
    skipped = bool(skip)
    if undecoded is None:
        return Batch([envelope(*r) for r in rows], covers, skipped)
    # In a long catch-up ten rows in eleven stay undecoded: built here in one step (no
    # RawRow, no call each): the read-ahead thread's read of a bank year took a sixth less.
    return Batch([Envelope(p, stream_key(s), v, t, UNDECODED, raw, kind_of(t)) if undecoded[t]
                  else envelope(p, s, v, t, raw) for p, s, v, t, raw in rows], covers, skipped)


def read_raw(db: ViewDatabase, table: str, after: int, limit: int,
             stop: int | None = None) -> list[RawRow]:
    """The next `limit` stored rows of the event table `table` after position `after` (up to
    `stop`), undecoded."""
    return [RawRow(*r) for r in _rows(db, table, after, limit, stop)]


def _rows(db: ViewDatabase, table: str, after: int, limit: int, stop: int | None,
          skip: Collection[str] = ()) -> list[tuple[int, Any, int, str, bytes]]:
    """(position, stream, version, topic, stored bytes) of the next `limit` rows. Read on
    the view database's own connection: plain tuples, no per-row dictionaries, and the
    same snapshot rules as the views it feeds."""
    postgres = db.backend == "postgres"
    position = "notification_id" if postgres else "rowid"
    # PostgreSQL's stream id read as text: the driver would build a UUID object for every
    # row only for `stream_key` to spell it in hex (a rebuild's audit reads every row).
    stream = "originator_id::text" if postgres else "originator_id"
    statement = (f"SELECT {position}, {stream}, originator_version, topic, state "
                 f"FROM {table} WHERE {position} > ?")
    params: list[Any] = [after]
    if stop is not None:
        statement += f" AND {position} <= ?"
        params.append(stop)
    if skip:
        statement += f" AND topic NOT IN ({', '.join('?' * len(skip))})"
        params.extend(sorted(skip))
    statement += " ORDER BY 1 LIMIT ?"
    params.append(limit)
    rows = db.fetchall(statement, params)
    if postgres:
        return [(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]
    return rows


def stream(db: ViewDatabase, table: str, after: int = 0, batch: int = 2000,
           stop: int | None = None) -> Iterator[list[Envelope]]:
    while True:
        envelopes = read(db, table, after, batch, stop)
        if not envelopes:
            return
        yield envelopes
        after = envelopes[-1].position
