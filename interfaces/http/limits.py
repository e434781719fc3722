"""Request body limits: 413 problem before a large body is read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from interfaces.http.asgi import BodyTooLarge, header, read_body, replay_body, send_problem

IMPORT_PATH = "/v1/balances/import"


class BodyLimitMiddleware:
    """The balance feed may be large (`import_limit`); every other body is small (`limit`)."""

    def __init__(self, app: ASGIApp, limit: int, import_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.import_limit = import_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.import_limit if scope["path"] == IMPORT_PATH else self.limit
        declared = header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        try:
            body = await read_body(receive, limit)
        except BodyTooLarge:  # chunked, or a content-length that lied
            await self._refuse(send, limit)
            return
        await self.app(scope, replay_body(body, receive), send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        await send_problem(send, "payload_too_large", 413,
                           f"the request body exceeds {limit} bytes",
                           [{"field": "body", "message": f"at most {limit} bytes"}])
