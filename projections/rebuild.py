"""Rebuilds side by side, with a diff of what the new rules change.

A rebuild builds a new generation from position zero while the active one
keeps serving, catches up with events that arrived meanwhile, then switches
in one transaction and drops the old tables. A what-if rebuild (a rulebook
that is not published) is built the same way, diffed, and never switched in.
Two rebuilds over the same events and rulebooks produce identical views.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from application.settings import schema_lock
from domain.rulebook import parse_rulebook
from projections.audit_apart import AuditApart, cores, worth_apart
from projections.book import BalancesRecordedTwice, BookProjection
from projections.diff import diff_books
from projections.registry import Generation
from projections.runner import NAMES, Projector

REBUILDS = "rmbook_rebuilds"
Progress = Callable[[int, int], None]


@dataclass
class RebuildReport:
    rebuild_id: str
    projections: list[str]
    status: str = "running"
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    done: int = 0
    total: int = 0
    what_if: str | None = None
    generations: dict[str, list[int | None]] = field(default_factory=dict)
    rulebook_version: str | None = None
    events_per_s: float | None = None
    diff: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _ensure_table(projector: Projector) -> None:
    db = projector.db
    with schema_lock(db.settings):
        db.execute(f"CREATE TABLE IF NOT EXISTS {REBUILDS} (rebuild_id TEXT PRIMARY KEY, "
                   f"report {db.blob} NOT NULL)")


def _save(projector: Projector, report: RebuildReport) -> None:
    projector.db.execute(
        f"INSERT INTO {REBUILDS} VALUES (?, ?) ON CONFLICT (rebuild_id) DO UPDATE SET "
        "report=excluded.report", (report.rebuild_id, orjson.dumps(report.as_dict())))


def load_report(projector: Projector, rebuild_id: str) -> dict[str, Any] | None:
    _ensure_table(projector)
    row = projector.db.fetchone(f"SELECT report FROM {REBUILDS} WHERE rebuild_id=?",
                                (rebuild_id,))
    return orjson.loads(row[0]) if row else None


def start_report(projector: Projector, names: list[str], what_if: dict[str, Any] | None
                 ) -> RebuildReport:
    _ensure_table(projector)
    report = RebuildReport(uuid.uuid4().hex, names,
                           what_if=str(what_if.get("version")) if what_if else None)
    _save(projector, report)
    return report


def rebuild(projector: Projector, names: list[str] | None = None, *,
            what_if: dict[str, Any] | None = None, progress: Progress | None = None,
            report: RebuildReport | None = None, apart: bool | None = None,
            in_parts: bool | None = None, key_later: bool = True) -> RebuildReport:
    """Rebuild `names` (default: all) from position zero; diff the book; switch unless what-if.
    `apart`: build the audit in a process of its own beside the book (ADR 0018); by default
    when the rebuild is long and the machine has a second core. `in_parts`: copy the book's
    balances in two parts at once (ADR 0022); by default on PostgreSQL with a second core.
    `key_later`: on PostgreSQL, build the book's balances view without its key and key it
    when the copy is done (ADR 0031); should two rows then share a day, the rebuild starts
    again keyed from the start, where the latest balance of a day wins (ADR 0020)."""
    names = list(names or NAMES)
    if what_if is not None:
        parse_rulebook(what_if)  # refuse an invalid what-if before building anything
        names = ["book"]
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown projection {unknown[0]!r}; known: {', '.join(NAMES)}")
    report = report or start_report(projector, names, what_if)
    started = time.perf_counter()
    try:
        with projector.lock:
            projector.ensure(tuple(names))
        head = projector.bank.max_position()
        report.total = head
        if apart is None:
            apart = worth_apart(projector.bank.settings, head)
        if in_parts is None:  # SQLite's copy stays whole anyway: it has one writer
            in_parts = cores() >= 2
        try:
            _rebuild(projector, names, what_if, head, report, progress, apart, in_parts,
                     key_later)
        except BalancesRecordedTwice:
            if not key_later:
                raise
            report.done = 0
            _rebuild(projector, names, what_if, head, report, progress, apart, in_parts, False)
        report.status = "finished"
    except Exception as e:
        report.status = "failed"
        report.error = f"{type(e).__name__}: {e}"
        raise
    finally:
        seconds = time.perf_counter() - started
        report.finished_at = datetime.now(UTC).isoformat()
        report.events_per_s = round(report.done / seconds, 1) if seconds > 0 else None
        _save(projector, report)
    return report


def _rebuild(projector: Projector, names: list[str], what_if: dict[str, Any] | None,
             head: int, report: RebuildReport, progress: Progress | None, apart: bool,
             in_parts: bool, key_later: bool) -> None:
    """Build new generations of `names` together (one read of the sequence), then switch.
    New generations whose balances could not be keyed are dropped (`BalancesRecordedTwice`)."""
    registry = projector.registry
    olds = {name: registry.active(name) for name in names}
    news = [registry.create(name, "what_if" if what_if else "building", adopt_until=head,
                            what_if=[what_if] if what_if else None) for name in names]
    for generation in news:
        instance = projector.instance(generation)
        if isinstance(instance, BookProjection):
            instance.key_later = key_later  # nobody reads it before it is keyed (ADR 0031)
        instance.create_tables()
    last_saved = 0.0
    recorded_twice = False
    audit = next((g for g in news if g.name == "audit"), None)
    beside: AuditApart | None = None  # the audit's own process, when it has one

    def step(done: int, _total: int) -> None:
        nonlocal last_saved
        if beside is not None:
            beside.check()  # a failed audit process stops the book's build too
        report.done = min(done, head, beside.reached if beside is not None else head)
        if progress is not None:
            progress(report.done, report.total)
        if time.monotonic() - last_saved > 1.0:  # progress visible to other processes
            last_saved = time.monotonic()
            _save(projector, report)

    try:
        if apart and audit is not None and len(news) > 1:
            beside = AuditApart(projector.bank.settings, audit.generation, head,
                                batch_size=projector.batch_size,
                                flush_events=projector.flush_events)
        _copy_in_parts(projector, news, in_parts)  # only while nobody else writes or reads
        try:
            projector.catch_up([g for g in news if beside is None or g is not audit],
                               stop=head, progress=step)
        finally:
            _copy_in_parts(projector, news, False)
        _key_balances(projector, news)  # before the diff reads it or the switch serves it
        if beside is not None and audit is not None:
            beside.wait(tick=lambda: step(head, head))
            _caught_up_elsewhere(projector, audit)
        # Events that arrived while building: follow them, then switch holding the lock.
        with projector.lock:
            projector.catch_up(news)
            serving = [g for g in olds.values() if g is not None]
            if serving:
                projector.catch_up(serving)
            for new in news:
                old = olds[new.name]
                report.generations[new.name] = [old.generation if old else None, new.generation]
                if new.name == "book":
                    report.rulebook_version = projector.instance(new).rulebook_version
                    if old is not None:
                        report.diff = _diff(projector, old, new)
            if not what_if:
                with projector.db.transaction():
                    for new in news:
                        registry.switch(new.name, new.generation)
                for old in serving:
                    projector.drop(old)
    except BalancesRecordedTwice:
        recorded_twice = True
        raise
    finally:
        if beside is not None:
            beside.close()
        if what_if or recorded_twice:
            for new in news:
                projector.drop(new)
    report.done = head


def _copy_in_parts(projector: Projector, news: list[Generation], on: bool) -> None:
    """A new book generation's balances copied in two parts at once (ADR 0022): safe while
    this process alone writes it and nobody reads it, until the switch."""
    for generation in news:
        book = projector.instance(generation)
        if isinstance(book, BookProjection):
            book.copy_in_parts = on  # the book knows which databases can


def _key_balances(projector: Projector, news: list[Generation]) -> None:
    for generation in news:
        book = projector.instance(generation)
        if isinstance(book, BookProjection):
            book.key_balances()


def _caught_up_elsewhere(projector: Projector, generation: Generation) -> None:
    """Take up where another process left `generation`: its tracked position, and this
    process's memory of it dropped (the chain's last hash is read again when needed)."""
    found = projector.registry.get(generation.name, generation.generation)
    if found is None:
        raise LookupError(f"{generation.name} generation {generation.generation} is gone")
    generation.position = found.position
    projector.instance(generation).forget()


def _diff(projector: Projector, old: Generation, new: Generation) -> dict[str, Any]:
    old_book, new_book = projector.instance(old), projector.instance(new)
    assert isinstance(old_book, BookProjection)
    assert isinstance(new_book, BookProjection)
    return diff_books(projector.db, old_book, new_book)


def build_fresh(projector: Projector, name: str, *, known_at: datetime | None = None,
                status: str = "replay") -> Generation:
    """A throw-away generation over the events known at `known_at` (for replay)."""
    generation = projector.registry.create(name, status, adopt_until=None)
    projector.instance(generation).create_tables()
    projector.catch_up(generation, known_at=known_at)
    return generation
