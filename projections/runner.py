"""Running projections: follow the global event sequence from each tracked position.

Each batch is folded into memory, then written with the new tracked position
in one transaction, so a crash at any point resumes exactly once. On
PostgreSQL a worker LISTENs for the event table's notifications and also
polls, because a lost notification must never stall a projection; SQLite has
no notifications, so workers poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from application import gc_tuning
from application.service import BookOfBusiness
from application.settings import postgres_connection
from projections import envelopes
from projections.audit import AuditProjection
from projections.base import Projection
from projections.book import BookProjection
from projections.db import ViewDatabase
from projections.envelopes import Batch
from projections.read_ahead import ReadAhead
from projections.registry import Generation, Registry
from projections.waiting import (
    LOCK_WAIT_SECONDS,
    SHORT_LAG_EVENTS,
    WouldWait,
    must_not_wait,
    without_waiting,
)

NAMES = ("book", "audit")
BATCH_EVENTS = 10_000  # events read and decoded at a time
FLUSH_EVENTS = 200_000  # events applied between writes in a long catch-up (memory: ~100 MiB)
WRITE_AT_THE_LATEST = 2  # × flush_events: beyond this, a write waits for a busy lock
BULK_CACHE_MIB = 256  # SQLite page cache of the connection writing a long catch-up
Progress = Callable[[int, int], None]


class _Undecoded(dict[str, bool]):
    """topic → whether no projection of a batch looks inside its events; asked once a topic.
    `skipped`: the topics whose rows none of them needs at all (not read; ADR 0018)."""

    def __init__(self, projections: list[Projection]) -> None:
        super().__init__()
        self.projections = projections
        self.skipped = frozenset.intersection(*(p.rows_copied() for p in projections))

    def __missing__(self, topic: str) -> bool:
        found = self[topic] = not any(p.reads_state(topic) for p in self.projections)
        return found


class TrackingConflict(Exception):
    """Another worker advanced the same projection first; this batch was rolled back."""


@dataclass
class Status:
    name: str
    generation: int
    status: str
    position: int
    lag: int
    rulebook_version: str | None
    pending_rulebooks: list[str]
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Projector:
    """The read side of one process: its view connection, registry and projections."""

    def __init__(self, bank: BookOfBusiness, batch_size: int = BATCH_EVENTS,
                 projecting: bool = True, flush_events: int = FLUSH_EVENTS,
                 copy_in_database: bool = True) -> None:
        """`projecting=False`: this process only reads views that `rmbook project` workers
        keep up to date (API processes on PostgreSQL), so reads never catch up themselves.
        `copy_in_database=False`: a long catch-up decodes and folds every event in Python,
        as a short one does (the slow path, for comparison; ADR 0016)."""
        self.bank = bank
        self.copy_in_database = copy_in_database
        self.projecting = projecting
        self.batch_size = batch_size
        self.db = ViewDatabase(bank.settings)
        self.registry = Registry(self.db)
        self._instances: dict[int, Projection] = {}
        self.lock = threading.RLock()
        self.flush_events = max(batch_size, flush_events)
        self._read_ahead: ThreadPoolExecutor | None = None
        self._reader_lock = threading.Lock()
        self._applied: dict[int, int] = {}  # generation → position applied, not yet written
        # generation → the position this process last wrote it at: what its memory reflects
        self._written_at: dict[int, int] = {}

    def close(self) -> None:
        if self._read_ahead is not None:
            self._read_ahead.shutdown(wait=True)
            self._read_ahead = None
        self.db.close()

    # ---- generations -----------------------------------------------------------

    def instance(self, generation: Generation) -> Projection:
        found = self._instances.get(generation.generation)
        if found is None:
            projection: Projection
            if generation.name == "book":
                projection = BookProjection(self.db, generation.generation, self.bank.builtin,
                                            self.bank.events_table, generation.what_if,
                                            generation.adopt_until)
            elif generation.name == "audit":
                projection = AuditProjection(self.db, generation.generation,
                                             self.bank.events_table)
            else:
                raise KeyError(f"unknown projection {generation.name!r}; known: {', '.join(NAMES)}")
            # Request threads may race here: one instance wins, and every caller gets it.
            found = self._instances.setdefault(generation.generation, projection)
        return found

    def ensure(self, names: tuple[str, ...] = NAMES) -> list[Generation]:
        """Every projection has an active generation (created empty, at position 0)."""
        generations = []
        for name in names:
            active = self.registry.active(name)
            if active is None:
                active = self._create_first(name)
            generations.append(active)
        return generations

    def _create_first(self, name: str) -> Generation:
        """The first generation of a projection, created once even when several processes
        start together: the check and the switch happen under the registry's lock."""
        created = self.registry.create(name, "building", adopt_until=self.bank.max_position())
        self.instance(created).create_tables()
        with self.db.transaction():
            self.registry.lock()
            if self.registry.active(name) is None:
                self.registry.switch(name, created.generation)
                winner = None
            else:
                winner = created
        if winner is not None:  # another process got there first: ours is not needed
            self.drop(winner)
        active = self.registry.active(name)
        assert active is not None
        return active

    def drop(self, generation: Generation) -> None:
        self.instance(generation).drop_tables()
        self.registry.forget(generation.name, generation.generation)
        self._instances.pop(generation.generation, None)

    # ---- processing --------------------------------------------------------------

    def _read(self, after: int, stop: int | None,
              undecoded: _Undecoded | None = None) -> Batch:
        return envelopes.read(self.db, self.bank.events_table, after, self.batch_size, stop,
                              undecoded, undecoded.skipped if undecoded is not None else ())

    def _apply(self, generations: list[Generation], rows: Batch,
               known_at: datetime | None) -> None:
        """Fold a batch into each projection's memory (nothing written yet). With
        `known_at`, events recorded after that instant are passed over (replay). Rows the
        read skipped are the projections' to copy (`passed_over`)."""
        batch = rows if known_at is None else [e for e in rows if e.recorded_at <= known_at]
        try:
            for generation in generations:
                after = self._applied.get(generation.generation, generation.position)
                if after < rows.covers:
                    fresh = batch if not batch or batch[0].position > after else \
                        [e for e in batch if e.position > after]
                    projection = self.instance(generation)
                    if rows.skipped:
                        projection.passed_over(after + 1, rows.covers)
                    projection.apply(fresh)
                    self._applied[generation.generation] = rows.covers
        except BaseException:
            self._forget(generations)
            raise

    def _write(self, generations: list[Generation], to: int) -> None:
        """Write what was applied up to `to`, with the tracked positions, in one transaction
        (a crash before the commit leaves the views and positions as they were)."""
        try:
            with self.db.transaction():
                for generation in generations:
                    if generation.position >= to:
                        continue
                    projection = self.instance(generation)
                    projection.flush()
                    if not self.registry.advance(generation, to, projection.rulebook_version):
                        raise TrackingConflict(f"{generation.name} moved past "
                                               f"{generation.position}")
        except WouldWait:  # refused before anything was written: the memory stands
            raise
        except BaseException:
            self._forget(generations)
            raise
        for generation in generations:
            generation.position = max(generation.position, to)
            self._applied.pop(generation.generation, None)
            self._written_at[generation.generation] = generation.position

    def _write_unless_busy(self, generations: list[Generation], to: int) -> bool:
        """Write now unless another writer holds SQLite's lock (a rebuild's other process,
        a worker, the API); then go on folding and try again after the next batch, rather
        than sit idle behind its transaction (ADR 0018)."""
        try:
            with without_waiting():
                self._write(generations, to)
        except WouldWait:
            return False
        return True

    def _forget(self, generations: list[Generation]) -> None:
        for generation in generations:
            self.instance(generation).forget()
            self._applied.pop(generation.generation, None)
            self._written_at.pop(generation.generation, None)

    def _forget_if_moved(self, generations: list[Generation]) -> None:
        """Drop the memory of a generation that stands elsewhere than this process last wrote
        it: another process (a worker, the CLI, the server) has written it since, and folding
        onto the documents held here would write them back without its changes."""
        self._forget([g for g in generations
                      if self._written_at.get(g.generation) != g.position])

    def catch_up(self, generation: Generation | list[Generation], *, stop: int | None = None,
                 progress: Progress | None = None, known_at: datetime | None = None) -> int:
        """Process batches until `stop` (default: the head); returns the events read.

        A long catch-up (a rebuild, a first projection, a worker far behind) is written
        every `flush_events` events rather than every batch: views keyed by customer take
        each batch's rows all over their B-trees, and fewer, larger transactions write
        each touched page once instead of once per batch. Meanwhile the next batches are
        read in a helper thread on its own connection, so the database's work on the
        reads and on our writes overlaps ours (ADR 0013, `read_ahead.py`); balances are
        read undecoded and copied by the database (ADR 0016). A catch-up of one batch —
        a read after a write — reads in line and writes at once."""
        group = generation if isinstance(generation, list) else [generation]
        self._forget_if_moved(group)
        target = self.bank.max_position() if stop is None else stop
        done = 0
        pending = 0
        ahead: ReadAhead | None = None
        bulk = ExitStack()  # the large page cache, once this proves a long catch-up
        long = False
        undecoded: _Undecoded | None = None  # once long: topics no projection looks inside
        try:
            while min(g.position for g in group) < target:
                after = min(self._applied.get(g.generation, g.position) for g in group)
                if ahead is not None and ahead.next_after != after:  # a conflict moved us
                    ahead.close()
                    ahead = None
                rows = ahead.next() if ahead is not None else \
                    self._read(after, target, undecoded)
                if rows.covers <= after:  # nothing more to read
                    if pending:
                        self._write(group, after)
                    break
                to = rows.covers
                if to < target and ahead is None:
                    if not long:  # more than one batch to go
                        long = True
                        bulk.enter_context(self.db.large_page_cache(BULK_CACHE_MIB))
                        bulk.enter_context(gc_tuning.paused())
                        if known_at is None and self.copy_in_database:
                            undecoded = _Undecoded([self.instance(g) for g in group])
                    ahead = ReadAhead(self._reader(), partial(self._next_batch, target=target,
                                                              undecoded=undecoded), to, target)
                try:
                    self._apply(group, rows, known_at)
                    pending += to - after  # the positions covered, rows skipped included
                    if to >= target or pending >= self.flush_events * WRITE_AT_THE_LATEST:
                        self._write(group, to)
                        pending = 0
                    elif pending >= self.flush_events and self._write_unless_busy(group, to):
                        pending = 0
                except TrackingConflict:
                    for g in group:
                        fresh = self.registry.get(g.name, g.generation)
                        if fresh is not None:
                            g.position = fresh.position
                    pending = 0
                    continue
                done += len(rows)
                if progress is not None:
                    progress(min(to, target), target)
        finally:
            bulk.close()
            if ahead is not None:  # reads nobody will use: stopped
                ahead.close()
            for g in group:  # applied but never written (an error): not kept in memory
                if g.generation in self._applied:
                    self._forget([g])
        return done

    def _next_batch(self, after: int, *, target: int, undecoded: _Undecoded | None
                    ) -> Batch:
        return self._read(after, target, undecoded)

    def _reader(self) -> ThreadPoolExecutor:
        """One read-ahead thread per projector, kept (with its connection) once started."""
        with self._reader_lock:
            if self._read_ahead is None:
                self._read_ahead = ThreadPoolExecutor(max_workers=1,
                                                      thread_name_prefix="rmbook-read-ahead")
            return self._read_ahead

    def catch_up_all(self, progress: Progress | None = None) -> None:
        if not self.projecting:
            return
        with self.lock:
            self.catch_up(self.ensure(), progress=progress)

    def serving(self, name: str) -> Generation:
        """The active generation of `name` to read from. When this process projects and the
        store has moved past it, it is caught up first. One query, no lock, when nothing
        needs doing — the common case of a read."""
        head, active = self.registry.serving(self.bank.events_table)
        if name not in active or (self.projecting and any(
                active.get(n) is None or active[n].position < head for n in NAMES)):
            if must_not_wait():
                self._catch_up_shortly(head, active)
            else:
                self.catch_up_all()
            head, active = self.registry.serving(self.bank.events_table)
            if name not in active:
                active[name] = self.ensure((name,))[0]
        return active[name]

    def _catch_up_shortly(self, head: int, active: Mapping[str, Generation | None]) -> None:
        """Catch up on the event loop only when it is short: a few events, the lock free."""
        behind = max(head - g.position if g is not None else head
                     for g in (active.get(n) for n in NAMES))
        if behind > SHORT_LAG_EVENTS:
            raise WouldWait(f"the views are {behind} events behind")
        if not self.lock.acquire(timeout=LOCK_WAIT_SECONDS):
            raise WouldWait("the projector is catching up elsewhere")
        try:
            self.catch_up_all()
        finally:
            self.lock.release()

    # ---- status --------------------------------------------------------------------

    def status(self) -> list[Status]:
        head = self.bank.max_position()
        published = [r.version for r in self.bank.rulebook_history().versions]
        found = []
        for g in self.registry.all():
            pending: list[str] = []
            if g.name == "book" and g.status == "active":
                adopted = {r.version for r in self._adopted(g)}
                pending = [v for v in published if v not in adopted]
            found.append(Status(g.name, g.generation, g.status, g.position, max(0, head - g.position),
                                g.rulebook_version, pending, g.updated_at))
        return found

    def _adopted(self, generation: Generation) -> Any:
        projection = self.instance(generation)
        assert isinstance(projection, BookProjection)
        projection._history = None  # re-read: another process may have advanced it
        projection.published = None
        return projection.history.versions

    # ---- following ------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        """Follow the sequence until `stop` is set."""
        listener = _Listener(self.bank) if self.bank.settings.backend == "postgres" else None
        try:
            while not stop.is_set():
                try:
                    self.catch_up_all()
                except TrackingConflict:
                    continue
                if listener is not None:
                    listener.wait(poll_interval)
                else:
                    stop.wait(poll_interval)
        finally:
            if listener is not None:
                listener.close()


class _Listener:
    """LISTEN on the event table's channel; `wait` returns early on a notification."""

    def __init__(self, bank: BookOfBusiness) -> None:
        self.conn = postgres_connection(bank.settings)
        channel = getattr(bank.recorder, "channel_name", "rmbook_events")
        self.conn.execute(f'LISTEN "{channel}"')

    def wait(self, timeout: float) -> None:
        for _ in self.conn.notifies(timeout=timeout, stop_after=1):
            break

    def close(self) -> None:
        self.conn.close()

