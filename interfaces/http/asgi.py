"""Small ASGI helpers shared by the middlewares (raw scope, body and response plumbing)."""

from __future__ import annotations

import orjson
from starlette.types import Message, Receive, Scope, Send

from interfaces.http.errors import PROBLEM_JSON, problem_body


class BodyTooLarge(Exception):
    pass


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            try:
                return bytes(value).decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None


async def read_body(receive: Receive, limit: int | None = None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the buffered body to the app once, then waits for disconnect."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_response(send: Send, status: int, body: bytes,
                        headers: list[tuple[bytes, bytes]]) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_problem(send: Send, code: str, status: int, detail: str,
                       errors: list[dict[str, str | None]] | None = None) -> None:
    body = orjson.dumps(problem_body(code, status, detail, errors or []))
    await send_response(send, status, body, [(b"content-type", PROBLEM_JSON.encode())])
