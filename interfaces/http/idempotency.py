"""Idempotency-Key on every POST (API.md): a repeat returns the first response, writes nothing.

Keys are stored durably next to the events (table `rmbook_idempotency`, same
database), per (principal, key), with a fingerprint of method, path, query,
content type and body. A key is first *reserved* (a row without a response),
so two concurrent requests with one key cannot both run; the response is
stored before it is sent. Only successful (2xx) responses are kept: a refused
request wrote nothing, so running it again is safe and sees current state.

What this cannot cover: a process dying after the events were written but
before the response was stored. Its reservation expires after
`ABANDONED_AFTER_MS` and a repeat then runs again (balances and creations are
idempotent in the domain; a second visit or non-deposit record is possible).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.settings import schema_lock
from interfaces.http.asgi import header, read_body, replay_body, send_problem, send_response
from interfaces.http.auth import Principals
from projections.db import ViewDatabase

TABLE = "rmbook_idempotency"
ABANDONED_AFTER_MS = 120_000
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
# Headers of the first response that a repeat gets back.
KEPT_HEADERS = (b"content-type", b"x-event-position", b"location")


class Outcome(Enum):
    RESERVED = "reserved"
    REPLAY = "replay"
    REUSED = "reused"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class IdempotencyStore:
    def __init__(self, db: ViewDatabase) -> None:
        self.db = db
        with schema_lock(db.settings):
            db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (principal TEXT NOT NULL, "
                       "idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER, "
                       f"headers {db.blob}, body {db.blob}, reserved_at {db.bigint} NOT NULL, "
                       "PRIMARY KEY (principal, idem_key))")

    def reserve(self, principal: str, key: str, fingerprint: str
                ) -> tuple[Outcome, StoredResponse | None]:
        for _ in range(3):  # a row deleted between INSERT and SELECT: try again
            now = _now_ms()
            inserted = self.db.execute(
                f"INSERT INTO {TABLE} (principal, idem_key, fingerprint, reserved_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (principal, idem_key) DO NOTHING",
                (principal, key, fingerprint, now))
            if inserted.rowcount == 1:
                return Outcome.RESERVED, None
            row = self.db.fetchone(
                f"SELECT fingerprint, status, headers, body, reserved_at FROM {TABLE} "
                "WHERE principal=? AND idem_key=?", (principal, key))
            if row is None:
                continue
            if row[0] != fingerprint:
                return Outcome.REUSED, None
            if row[1] is not None:
                headers = [(str(k), str(v)) for k, v in orjson.loads(bytes(row[2]))]
                return Outcome.REPLAY, StoredResponse(int(row[1]), headers, bytes(row[3]))
            if now - int(row[4]) > ABANDONED_AFTER_MS and self._take_over(principal, key,
                                                                         int(row[4]), now):
                return Outcome.RESERVED, None
            return Outcome.IN_PROGRESS, None
        return Outcome.IN_PROGRESS, None

    def _take_over(self, principal: str, key: str, reserved_at: int, now: int) -> bool:
        taken = self.db.execute(
            f"UPDATE {TABLE} SET reserved_at=? WHERE principal=? AND idem_key=? AND "
            "status IS NULL AND reserved_at=?", (now, principal, key, reserved_at))
        return bool(taken.rowcount == 1)

    def complete(self, principal: str, key: str, response: StoredResponse) -> None:
        self.db.execute(f"UPDATE {TABLE} SET status=?, headers=?, body=? "
                        "WHERE principal=? AND idem_key=?",
                        (response.status, orjson.dumps(response.headers), response.body,
                         principal, key))

    def release(self, principal: str, key: str) -> None:
        self.db.execute(f"DELETE FROM {TABLE} WHERE principal=? AND idem_key=? "
                        "AND status IS NULL", (principal, key))


def _now_ms() -> int:
    return int(time.time() * 1000)


def fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                 header(scope, b"content-type") or ""):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\x00")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyMiddleware:
    """Answers repeats of a POST from the store; records the first 2xx answer."""

    def __init__(self, app: ASGIApp, wait_seconds: float = 5.0) -> None:
        self.app = app
        self.wait_seconds = wait_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        principal = _principal_name(scope)
        if principal is None:  # the route answers 401; nothing to remember
            await self.app(scope, receive, send)
            return
        note = scope.get("rmbook.log")
        if isinstance(note, dict):  # a replay never reaches the route: log the principal here
            note["principal"] = principal
        if not KEY_PATTERN.match(key):
            await send_problem(send, "validation_error", 422, "invalid Idempotency-Key",
                               [{"field": "Idempotency-Key",
                                 "message": "must be 1-255 visible ASCII characters"}])
            return
        body = await read_body(receive)
        store: IdempotencyStore = scope["app"].state.runtime.idempotency
        outcome, stored = await self._reserve(store, principal, key, fingerprint(scope, body))
        if outcome is Outcome.REPLAY and stored is not None:
            await send_response(send, stored.status, stored.body,
                                [(k.encode("latin-1"), v.encode("latin-1"))
                                 for k, v in stored.headers] + [(b"idempotent-replayed", b"true")])
        elif outcome is Outcome.REUSED:
            await send_problem(send, "idempotency_key_reused", 409,
                               "this Idempotency-Key was used with a different request")
        elif outcome is Outcome.IN_PROGRESS:
            await send_problem(send, "idempotency_key_in_progress", 409,
                               "the first request with this Idempotency-Key is still running; "
                               "retry later")
        else:
            await self._run_first(scope, replay_body(body, receive), send, store, principal, key)

    async def _reserve(self, store: IdempotencyStore, principal: str, key: str,
                       print_: str) -> tuple[Outcome, StoredResponse | None]:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            outcome, stored = await run_in_threadpool(store.reserve, principal, key, print_)
            if outcome is not Outcome.IN_PROGRESS or time.monotonic() >= deadline:
                return outcome, stored
            await asyncio.sleep(0.05)

    async def _run_first(self, scope: Scope, receive: Receive, send: Send,
                         store: IdempotencyStore, principal: str, key: str) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message  # held back until the response is stored
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            status = int(start["status"])
            if 200 <= status < 300:
                kept = [(k.decode("latin-1"), v.decode("latin-1"))
                        for k, v in start.get("headers", []) if k.lower() in KEPT_HEADERS]
                await run_in_threadpool(store.complete, principal, key,
                                        StoredResponse(status, kept, b"".join(chunks)))
            else:
                await run_in_threadpool(store.release, principal, key)
            await send(start)
            await send({"type": "http.response.body", "body": b"".join(chunks),
                        "more_body": False})

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await run_in_threadpool(store.release, principal, key)
            raise


def _principal_name(scope: Scope) -> str | None:
    authorization = header(scope, b"authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    principals: Principals = scope["app"].state.principals
    found = principals.authenticate(token.strip())
    return found.name if found is not None else None


def describe() -> dict[str, Any]:
    """The Idempotency-Key header, as documented on every POST in /openapi.json."""
    return {"name": "Idempotency-Key", "in": "header", "required": False,
            "description": "Repeat a POST safely: the same key and body return the first "
                           "response and write nothing; the same key with another body → 409 "
                           "idempotency_key_reused. Kept per principal.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "example": "7f9c2ba4-e88f-4c62-9b0e-3a6c5d1f2e10"}
