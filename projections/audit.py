"""Audit: timelines for customers, managers and branches, and the hash chain.

Rulebook-independent, so it is not rebuilt on rule changes. The chain links
every stored event row to the one before it: hash_n = SHA-256(hash_{n-1} ‖
position ‖ stream ‖ version ‖ topic ‖ stored bytes), so changing, removing or
reordering any stored row breaks every link after it (`verify` names the first).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from domain.rulebook import RulebookHistory, parse_rulebook
from projections.base import Projection
from projections.db import ViewDatabase
from projections.envelopes import Envelope
from projections.summaries import summarize

GENESIS = b"\x00" * 32
_ROLE_FIELDS = ("staff_no", "from_staff_no", "to_staff_no", "marketed_by")


def link(previous: bytes, position: int, stream: str, version: int, topic: str,
         state: bytes) -> bytes:
    digest = hashlib.sha256(previous)
    digest.update(f"|{position}|{stream}|{version}|{topic}|".encode())
    digest.update(state)
    return digest.digest()


class AuditProjection(Projection):
    name = "audit"

    def __init__(self, db: ViewDatabase, generation: int, history: RulebookHistory) -> None:
        super().__init__(db, generation)
        self.builtin_history = history
        self.forget()

    def create_tables(self) -> None:
        t, blob, big = self.table, self.db.blob, self.db.bigint
        for statement in (
            f"CREATE TABLE IF NOT EXISTS {t('events')} (position {big} PRIMARY KEY, "
            "recorded_at TEXT NOT NULL, effective_on TEXT, type TEXT NOT NULL, actor TEXT, "
            f"reason TEXT, rulebook_version TEXT, summary TEXT NOT NULL, data {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {t('subjects')} (subject TEXT NOT NULL, "
            f"position {big} NOT NULL, PRIMARY KEY (subject, position))",
            f"CREATE TABLE IF NOT EXISTS {t('chain')} (position {big} PRIMARY KEY, "
            f"hash {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {t('names')} (stream_id TEXT PRIMARY KEY, "
            "subject TEXT NOT NULL, branch TEXT)",
            f"CREATE TABLE IF NOT EXISTS {t('rulebooks')} (version TEXT PRIMARY KEY, "
            f"doc {blob} NOT NULL)",
        ):
            self.db.execute(statement)

    def drop_tables(self) -> None:
        for base in ("events", "subjects", "chain", "names", "rulebooks"):
            self.db.execute(f"DROP TABLE IF EXISTS {self.table(base)}")

    def forget(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.subjects: list[tuple[str, int]] = []
        self.links: list[tuple[int, bytes]] = []
        self.names: dict[str, tuple[str, str | None]] = {}
        self.new_names: list[tuple[str, str, str | None]] = []
        self.new_rulebooks: list[tuple[str, bytes]] = []
        self.last_hash: bytes | None = None
        self._history: RulebookHistory | None = None

    @property
    def history(self) -> RulebookHistory:
        if self._history is None:
            documents = [orjson.loads(r[0]) for r in
                         self.db.fetchall(f"SELECT doc FROM {self.table('rulebooks')}")]
            self._history = RulebookHistory.of(
                [*self.builtin_history.versions, *(parse_rulebook(d) for d in documents)])
        return self._history

    def _previous_hash(self, position: int) -> bytes:
        if self.last_hash is None:
            row = self.db.fetchone(f"SELECT hash FROM {self.table('chain')} WHERE position < ? "
                                   "ORDER BY position DESC LIMIT 1", (position,))
            self.last_hash = bytes(row[0]) if row else GENESIS
        return self.last_hash

    def _name(self, stream: str) -> tuple[str, str | None] | None:
        found = self.names.get(stream)
        if found is None:
            row = self.db.fetchone(f"SELECT subject, branch FROM {self.table('names')} "
                                   "WHERE stream_id=?", (stream,))
            if row is not None:
                found = self.names[stream] = (row[0], row[1])
        return found

    def apply(self, batch: list[Envelope]) -> None:
        for e in batch:
            self.last_hash = link(self._previous_hash(e.position), e.position, e.originator_id,
                                  e.version, e.topic, e.raw)
            self.links.append((e.position, self.last_hash))
            self._timeline(e)

    def _timeline(self, e: Envelope) -> None:
        s = e.state
        stream = e.originator_id
        subjects: set[str] = set()
        branch: str | None = None
        if e.kind in ("Customer/Onboarded", "Manager/Registered", "Assignment/Assigned"):
            is_manager = e.kind == "Manager/Registered"
            key = str(s["staff_no"] if is_manager else s["customer_no"])
            subject = ("manager:" if is_manager else "customer:") + key
            self.names[stream] = (subject, s.get("branch"))
            self.new_names.append((stream, subject, s.get("branch")))
        if e.kind == "RulebookRegistry/Published":
            self.new_rulebooks.append((s["version"], orjson.dumps(s["document"])))
            self._history = RulebookHistory.of([*self.history.versions,
                                                parse_rulebook(s["document"])])
        named = self._name(stream)
        if named is not None:
            subjects.add(named[0])
            branch = named[1]
        for role in _ROLE_FIELDS:
            if s.get(role):
                subjects.add(f"manager:{s[role]}")
        if e.kind.startswith("Manager/Custody"):
            subjects.add(f"customer:{s['customer_no']}")
        if branch:
            subjects.add(f"branch:{branch}")
        on = s.get("on")
        version = self.history.effective_on(on).version if on is not None else None
        self.rows.append((
            e.position, e.recorded_at.isoformat(), on.isoformat() if on else None, e.kind,
            s.get("actor"), s.get("reason"), version, summarize(e.kind, s),
            e.raw))
        self.subjects.extend((subject, e.position) for subject in sorted(subjects))

    def flush(self) -> None:
        t = self.table
        self.db.executemany(f"INSERT INTO {t('names')} VALUES (?,?,?) ON CONFLICT (stream_id) "
                            "DO NOTHING", self.new_names)
        self.db.executemany(f"INSERT INTO {t('rulebooks')} VALUES (?,?) ON CONFLICT (version) "
                            "DO NOTHING", self.new_rulebooks)
        self.db.executemany(f"INSERT INTO {t('events')} VALUES (?,?,?,?,?,?,?,?,?)", self.rows)
        self.db.executemany(f"INSERT INTO {t('subjects')} VALUES (?,?)", self.subjects)
        self.db.executemany(f"INSERT INTO {t('chain')} VALUES (?,?)", self.links)
        self.rows, self.subjects, self.links = [], [], []
        self.new_names, self.new_rulebooks = [], []

    @property
    def rulebook_version(self) -> str | None:
        return None
