"""Audit: who is named by each event (for timelines), and the hash chain.

Rulebook-independent, so it is not rebuilt on rule changes. The events
themselves are not copied: a timeline reads them from the event store when
asked (projections/timelines.py). What this projection keeps is what the
store cannot answer by itself:

- `names`: which subject ("customer:C1", "manager:M1") and branch each stream
  belongs to — a stream's events are its subject's timeline;
- `mentions`: events that also concern someone else than their stream's
  subject (a handover names both managers; a custody change names the
  customer) — a few per cent of events;
- `rulebooks`: each published rulebook and the position it was published at,
  so a timeline shows the version in force as it stood at each event;
- `chain`: the hash chain, one row per projected batch. hash_n = SHA-256(
  hash_{n-1} ‖ position ‖ stream ‖ version ‖ topic ‖ stored bytes), so changing,
  removing or reordering any stored row breaks every link after it (`verify`
  names the first). A row holds the batch's positions and hashes, packed.

A balance — ten events in eleven — costs one hash and nothing else (ADR 0011).
"""

from __future__ import annotations

import dataclasses
import hashlib
from array import array
from typing import Any

import orjson
from eventsourcing.utils import resolve_topic

from projections.base import Projection
from projections.db import ViewDatabase
from projections.envelopes import Envelope, kind_of

GENESIS = b"\x00" * 32
HASH_SIZE = 32
_ROLE_FIELDS = ("staff_no", "from_staff_no", "to_staff_no", "marketed_by")
_NAMING = {"Customer/Onboarded": "customer:", "Manager/Registered": "manager:",
           "Assignment/Assigned": "customer:"}


def link(previous: bytes, position: int, stream: str, version: int, topic: str,
         state: bytes) -> bytes:
    digest = hashlib.sha256(previous)
    digest.update(f"|{position}|{stream}|{version}|{topic}|".encode())
    digest.update(state)
    return digest.digest()


def pack_positions(positions: list[int]) -> bytes:
    return array("q", positions).tobytes()


def unpack_positions(data: bytes) -> list[int]:
    found = array("q")
    found.frombytes(bytes(data))
    return found.tolist()


_mentioning: dict[str, bool] = {}


def _may_mention(topic: str) -> bool:
    """Whether events of this topic can name anyone besides their own stream's subject:
    decided once per topic from the event class's fields (unknown topics: assume so)."""
    found = _mentioning.get(topic)
    if found is None:
        try:
            fields = {f.name for f in dataclasses.fields(resolve_topic(topic))}
        except Exception:
            fields = set(_ROLE_FIELDS)
        found = _mentioning[topic] = bool(fields & {*_ROLE_FIELDS, "customer_no"})
    return found


class AuditProjection(Projection):
    name = "audit"

    def __init__(self, db: ViewDatabase, generation: int, events_table: str) -> None:
        super().__init__(db, generation)
        self.events_table = events_table  # the event store's table, read by timelines
        self.forget()

    def create_tables(self) -> None:
        t, blob, big, text = self.table, self.db.blob, self.db.bigint, self.db.text
        for statement in (
            f"CREATE TABLE IF NOT EXISTS {t('names')} (stream_id {text} PRIMARY KEY, "
            f"subject {text} NOT NULL, branch {text})",
            f"CREATE INDEX IF NOT EXISTS {t('names_subject')} ON {t('names')} (subject)",
            f"CREATE INDEX IF NOT EXISTS {t('names_branch')} ON {t('names')} (branch)",
            f"CREATE TABLE IF NOT EXISTS {t('mentions')} (subject {text} NOT NULL, "
            f"position {big} NOT NULL, PRIMARY KEY (subject, position))",
            f"CREATE TABLE IF NOT EXISTS {t('chain')} (last_position {big} PRIMARY KEY, "
            f"positions {blob} NOT NULL, hashes {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {t('rulebooks')} (position {big} PRIMARY KEY, "
            f"version {text} NOT NULL, doc {blob} NOT NULL)",
        ):
            self.db.execute(statement)

    def drop_tables(self) -> None:
        for base in ("names", "mentions", "chain", "rulebooks"):
            self.db.execute(f"DROP TABLE IF EXISTS {self.table(base)}")

    def forget(self) -> None:
        self.positions: list[int] = []
        self.hashes: list[bytes] = []
        self.mentions: list[tuple[str, int]] = []
        self.names: dict[str, str] = {}  # stream → subject, this process's memory
        self.new_names: list[tuple[str, str, str | None]] = []
        self.new_rulebooks: list[tuple[int, str, bytes]] = []
        self.last_hash: bytes | None = None

    def _previous_hash(self) -> bytes:
        if self.last_hash is None:
            row = self.db.fetchone(f"SELECT hashes FROM {self.table('chain')} "
                                   "ORDER BY last_position DESC LIMIT 1")
            self.last_hash = bytes(row[0])[-HASH_SIZE:] if row else GENESIS
        return self.last_hash

    def _subject_of(self, stream: str) -> str | None:
        found = self.names.get(stream)
        if found is None:
            row = self.db.fetchone(f"SELECT subject FROM {self.table('names')} "
                                   "WHERE stream_id=?", (stream,))
            found = self.names[stream] = row[0] if row else ""
        return found or None

    def reads_state(self, topic: str) -> bool:
        """A balance — any event that names nobody and publishes nothing — is only hashed."""
        kind = kind_of(topic)
        return kind in _NAMING or kind == "RulebookRegistry/Published" or _may_mention(topic)

    def apply(self, batch: list[Envelope]) -> None:
        previous = self._previous_hash()
        positions, hashes = self.positions, self.hashes
        for e in batch:
            previous = link(previous, e.position, e.originator_id, e.version, e.topic, e.raw)
            positions.append(e.position)
            hashes.append(previous)
            state = e.state
            prefix = _NAMING.get(e.kind)
            if prefix is not None:
                key = state["staff_no"] if prefix == "manager:" else state["customer_no"]
                self.names[e.originator_id] = prefix + key
                self.new_names.append((e.originator_id, prefix + key, state.get("branch")))
            elif e.kind == "RulebookRegistry/Published":
                self.new_rulebooks.append((e.position, state["version"],
                                           orjson.dumps(state["document"])))
            if _may_mention(e.topic):
                self._mentions(e)
        self.last_hash = previous

    def _mentions(self, e: Envelope) -> None:
        """Subjects an event concerns besides its own stream's."""
        state = e.state
        named = None
        for role in _ROLE_FIELDS:
            staff_no = state.get(role)
            if staff_no:
                named = named or set()
                named.add(f"manager:{staff_no}")
        if e.kind.startswith("Manager/Custody"):
            named = named or set()
            named.add(f"customer:{state['customer_no']}")
        if named:
            named.discard(self._subject_of(e.originator_id) or "")
            self.mentions.extend((subject, e.position) for subject in sorted(named))

    def flush(self) -> None:
        t = self.table
        self.db.insert_rows(t("names"), ("stream_id", "subject", "branch"), self.new_names,
                            key=("stream_id",))
        self.db.insert_rows(t("rulebooks"), ("position", "version", "doc"), self.new_rulebooks,
                            key=("position",))
        self.db.insert_rows(t("mentions"), ("subject", "position"), self.mentions,
                            key=("subject", "position"))
        if self.positions:
            self.db.execute(f"INSERT INTO {t('chain')} VALUES (?,?,?)",
                            (self.positions[-1], pack_positions(self.positions),
                             b"".join(self.hashes)))
        self.positions, self.hashes, self.mentions = [], [], []
        self.new_names, self.new_rulebooks = [], []

    def chain_blocks(self, after: int = 0) -> Any:
        """(positions, hashes) of every recorded block after position `after`, in order."""
        while True:
            rows = self.db.fetchall(f"SELECT last_position, positions, hashes FROM "
                                    f"{self.table('chain')} WHERE last_position > ? "
                                    "ORDER BY last_position LIMIT 100", (after,))
            if not rows:
                return
            for last, positions, hashes in rows:
                yield unpack_positions(positions), bytes(hashes)
                after = last

    @property
    def rulebook_version(self) -> str | None:
        return None
