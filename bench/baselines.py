"""Baselines measured in the same run, on the same database, as the figure they qualify.

- `raw_insert`: the bare driver writes N event-shaped rows in bulk (SQLite
  executemany in large transactions; PostgreSQL COPY).
- `library_default`: a plain eventsourcing Application saves the same events
  with its default JSON transcoder, in batch saves.
- `raw_read_decode`: the bare driver reads every stored event row and decodes
  its JSON (standard library `json`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Transcoding

from application.settings import Settings, postgres_connection

Row = tuple[str, int, str, bytes]
# Events per save for the plain Application: large, but on PostgreSQL the library's own
# pipelined insert deadlocks (client and server both waiting) beyond a few thousand.
LIBRARY_BATCH = {"sqlite": 20_000, "postgres": 2_000}


def event_rows(n: int) -> Iterator[Row]:
    """N rows shaped like our balance events (same sizes, similar JSON)."""
    state = (b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-22T10:00:00.000000+00:00"},'
             b'"on":{"_type_":"date_iso","_data_":"2025-03-04"},"actor":"core-banking-feed",'
             b'"reason":null,"deposit_fen":123456789,"loan_fen":0}')
    streams = [uuid.uuid4().hex for _ in range(max(1, n // 100))]
    for i in range(n):
        yield streams[i % len(streams)], i // len(streams) + 1, "rmbook/Customer/BalanceRecorded", \
            state


def raw_insert(settings: Settings, n: int, batch: int = 20_000) -> float:
    """Events/s for the bare driver's bulk insert into a scratch table."""
    rows = list(event_rows(n))
    env = settings.eventsourcing_env()
    started = time.perf_counter()
    if settings.backend == "sqlite":
        conn = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute("CREATE TABLE bench_raw (originator_id TEXT, originator_version INTEGER, "
                     "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))")
        started = time.perf_counter()
        for i in range(0, n, batch):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO bench_raw VALUES (?,?,?,?)", rows[i:i + batch])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw")
        conn.close()
        return n / elapsed
    with postgres_connection(settings) as pg:
        pg.execute("DROP TABLE IF EXISTS bench_raw")
        pg.execute("CREATE TABLE bench_raw (originator_id uuid, originator_version integer, "
                   "topic text, state bytea, notification_id bigserial, "
                   "PRIMARY KEY (originator_id, originator_version))")
        started = time.perf_counter()
        for i in range(0, n, batch):
            with pg.transaction(), pg.cursor().copy(
                    "COPY bench_raw (originator_id, originator_version, topic, state) "
                    "FROM STDIN") as copy:
                for row in rows[i:i + batch]:
                    copy.write_row(row)
        elapsed = time.perf_counter() - started
        pg.execute("DROP TABLE bench_raw")
    return n / elapsed


class _DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class PlainLedger(Aggregate):
    """What a team would write with the library and nothing else."""

    @event("Opened")
    def __init__(self, customer_no: str) -> None:
        self.customer_no = customer_no
        self.balances: dict[str, tuple[int, int]] = {}

    @event("BalanceRecorded")
    def record(self, on: date, deposit_fen: int, loan_fen: int, actor: str,
               reason: str | None) -> None:
        self.balances[on.isoformat()] = (deposit_fen, loan_fen)


class PlainApplication(Application[uuid.UUID]):
    name = "plainbench"

    def register_transcodings(self, transcoder: Any) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_DateAsISO())


def library_default(settings: Settings, rows: list[tuple[str, date, int, int]],
                    batch: int = 20_000) -> float:
    """Events/s for a plain eventsourcing Application saving the same balance events."""
    ours = ("TRANSCODER_TOPIC", "MAPPER_TOPIC", "APPLICATION_RECORDER_TOPIC")  # library defaults
    env = {k: v for k, v in settings.eventsourcing_env().items() if k not in ours}
    env["AGGREGATE_CACHE_MAXSIZE"] = "0"
    app = PlainApplication(env=env)
    ledgers: dict[str, PlainLedger] = {}
    started = time.perf_counter()
    pending = 0
    for customer_no, on, deposit, loan in rows:
        ledger = ledgers.get(customer_no)
        if ledger is None:
            ledger = ledgers[customer_no] = PlainLedger(customer_no)
        ledger.record(on, deposit, loan, "core-banking-feed", None)
        pending += 1
        if pending >= batch:
            app.save(*ledgers.values())
            pending = 0
    app.save(*ledgers.values())
    elapsed = time.perf_counter() - started
    app.close()
    return (len(rows) + len(ledgers)) / elapsed


def raw_read_decode(settings: Settings, table: str, batch: int = 20_000) -> tuple[int, float]:
    """(rows, rows/s) for the bare driver reading every event row and decoding its JSON."""
    env = settings.eventsourcing_env()
    started = time.perf_counter()
    count = 0
    if settings.backend == "sqlite":
        conn = sqlite3.connect(env["SQLITE_DBNAME"])
        started = time.perf_counter()
        last = 0
        while True:
            rows = conn.execute(f"SELECT rowid, originator_id, originator_version, topic, state "
                                f"FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                                (last, batch)).fetchall()
            if not rows:
                break
            for row in rows:
                json.loads(row[4])
            count += len(rows)
            last = rows[-1][0]
        conn.close()
    else:
        with postgres_connection(settings) as pg:
            started = time.perf_counter()
            last = 0
            while True:
                rows = pg.execute(f"SELECT notification_id, originator_id, originator_version, "
                                  f"topic, state FROM {table} WHERE notification_id > %s "
                                  f"ORDER BY notification_id LIMIT %s", (last, batch)).fetchall()
                if not rows:
                    break
                for row in rows:
                    json.loads(row[4])
                count += len(rows)
                last = rows[-1][0]
    elapsed = time.perf_counter() - started
    return count, count / elapsed if elapsed else 0.0


def peak_rss_mib() -> float:
    """This process's own peak resident memory, MiB.

    Linux's `ru_maxrss` is no good for a spawned child: `exec` carries over the peak of
    the address space it replaces — the parent's, copied by `fork` — so a child of a
    2 GiB loader reported 2 GiB whatever it used. `VmHWM` is the peak of the process's
    current address space only."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 if os.name == "posix" \
        else 0.0
