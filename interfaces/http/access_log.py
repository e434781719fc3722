"""Structured access logs: one JSON line per request, and the request id.

Logged: request id (the caller's `X-Request-ID` when well-formed, else a new
one; echoed in the response), method, path *without* the query string, status,
duration and the principal's name. Never a token, a body or a query value:
those may carry names or secrets.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interfaces.http.asgi import header

log = logging.getLogger("rmbook.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def configure() -> None:
    """Lines go to stderr as they are (already JSON), once per process."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        # The auth dependency writes the principal's name here (see auth._authenticated).
        note: dict[str, str | None] = {"principal": None}
        scope["rmbook.log"] = note
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(orjson.dumps({
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "event": "http_request", "request_id": request_id,
                "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "principal": note.get("principal"),
            }).decode())
