"""Projection generations: which build of each projection is serving.

A rebuild creates a new generation (its own tables) and fills it from
position zero while the active one keeps serving; switching is one UPDATE in
one transaction. Every generation records its tracked position, the rulebook
versions it follows and its status: building, active, retired or what_if.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from application.settings import schema_lock
from projections.db import ViewDatabase

TABLE = "rmbook_projections"


@dataclass
class Generation:
    name: str
    generation: int
    status: str
    position: int
    adopt_until: int | None
    what_if: list[dict[str, Any]]
    rulebook_version: str | None
    updated_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Registry:
    def __init__(self, db: ViewDatabase) -> None:
        self.db = db
        with schema_lock(db.settings):
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (name TEXT NOT NULL, generation INTEGER NOT NULL, "
                f"status TEXT NOT NULL, position {db.bigint} NOT NULL, adopt_until {db.bigint}, "
                f"what_if {db.blob}, rulebook_version TEXT, updated_at TEXT NOT NULL, "
                "PRIMARY KEY (name, generation))")

    def _row(self, row: Any) -> Generation:
        return Generation(row[0], row[1], row[2], row[3], row[4],
                          orjson.loads(row[5]) if row[5] else [], row[6], row[7])

    _COLUMNS = ("name, generation, status, position, adopt_until, what_if, rulebook_version, "
                "updated_at")

    def all(self) -> list[Generation]:
        return [self._row(r) for r in self.db.fetchall(
            f"SELECT {self._COLUMNS} FROM {TABLE} ORDER BY name, generation")]

    def _one(self, where: str, params: tuple[Any, ...]) -> Generation | None:
        # Every read asks for the active generation: select that row, not the whole table.
        row = self.db.fetchone(f"SELECT {self._COLUMNS} FROM {TABLE} WHERE {where}", params)
        return self._row(row) if row else None

    def get(self, name: str, generation: int) -> Generation | None:
        return self._one("name=? AND generation=?", (name, generation))

    def active(self, name: str) -> Generation | None:
        return self._one("name=? AND status='active'", (name,))

    def serving(self, events_table: str) -> tuple[int, dict[str, Generation]]:
        """The store's head position and every active generation, in one query: what a read
        asks before it reads."""
        position = "notification_id" if self.db.backend == "postgres" else "rowid"
        rows = self.db.fetchall(
            f"SELECT {self._COLUMNS}, (SELECT MAX({position}) FROM {events_table}) "
            f"FROM {TABLE} WHERE status='active'")
        if not rows:
            head = self.db.fetchone(f"SELECT MAX({position}) FROM {events_table}")[0]
            return int(head or 0), {}
        return int(rows[0][-1] or 0), {r[0]: self._row(r) for r in rows}  # head: last column

    def create(self, name: str, status: str, adopt_until: int | None,
               what_if: list[dict[str, Any]] | None = None) -> Generation:
        with self.db.transaction():
            row = self.db.fetchone(f"SELECT MAX(generation) FROM {TABLE}")
            generation = (row[0] or 0) + 1 if row else 1
            self.db.execute(
                f"INSERT INTO {TABLE} VALUES (?,?,?,?,?,?,?,?)",
                (name, generation, status, 0, adopt_until,
                 orjson.dumps(what_if) if what_if else None, None, _now()))
        found = self.get(name, generation)
        assert found is not None
        return found

    def advance(self, generation: Generation, to: int, rulebook_version: str | None) -> bool:
        """Move the tracked position; False if another worker moved it first (then roll back)."""
        cursor = self.db.execute(
            f"UPDATE {TABLE} SET position=?, rulebook_version=?, updated_at=? "
            "WHERE name=? AND generation=? AND position=?",
            (to, rulebook_version, _now(), generation.name, generation.generation,
             generation.position))
        return bool(cursor.rowcount == 1)

    def lock(self) -> None:
        """Serialise registry changes across processes (inside a transaction)."""
        if self.db.backend == "postgres":
            self.db.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
        # SQLite: the transaction is BEGIN IMMEDIATE, which already excludes other writers.

    def set_status(self, name: str, generation: int, status: str) -> None:
        self.db.execute(f"UPDATE {TABLE} SET status=?, updated_at=? WHERE name=? AND generation=?",
                        (status, _now(), name, generation))

    def switch(self, name: str, new: int) -> int | None:
        """Make `new` the active generation; returns the retired one. Call inside a transaction."""
        old = self.active(name)
        if old is not None:
            self.set_status(name, old.generation, "retired")
        self.set_status(name, new, "active")
        return old.generation if old else None

    def forget(self, name: str, generation: int) -> None:
        self.db.execute(f"DELETE FROM {TABLE} WHERE name=? AND generation=?", (name, generation))
