"""The FastAPI application: `create_app()` wires settings, principals, middleware and routes.

One BookOfBusiness and one Projector per process, opened in the lifespan and
closed on shutdown. Routes are plain `def`s over the blocking store: short reads and
writes run on the event loop on SQLite and in threads on PostgreSQL; whatever may run
long in the general pool (lanes.py, ADR 0017).

Middleware, outermost first: access log (request id) → body limit → idempotency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI

from application import gc_tuning
from application.settings import Settings
from interfaces.http import access_log, errors, lanes, openapi
from interfaces.http.access_log import AccessLogMiddleware
from interfaces.http.auth import AuthConfigError, Principals
from interfaces.http.config import HttpSettings
from interfaces.http.idempotency import IdempotencyMiddleware
from interfaces.http.limits import BodyLimitMiddleware
from interfaces.http.routes import audit, custody, customers, feed, managers, operations, reports
from interfaces.http.routes import rulebooks as rulebook_routes
from interfaces.http.runtime import Runtime

DESCRIPTION = """\
The book of business of a bank's customer managers: custody, attribution, tiers,
visits, and a replayable audit history (API.md).

**Authorize** with a bearer token from the principals file (`RMBOOK_AUTH_FILE`;
`make run` prints local tokens). Every write answers `X-Event-Position`; pass it
back as `min_position` to read your own write. Every POST accepts
`Idempotency-Key`. Errors are `application/problem+json` with a stable `code`.
"""


def create_app(settings: Settings | None = None, auth_file: Path | None = None,
               http: HttpSettings | None = None) -> FastAPI:
    gc_tuning.relax()  # uvicorn workers build the app in their own process
    settings = settings or Settings.from_env()
    http = http or HttpSettings.from_env()
    if auth_file is not None:
        http = replace(http, auth_file=auth_file)
    if http.auth_file is None:
        raise AuthConfigError("set RMBOOK_AUTH_FILE to the principals file (see API.md)")
    principals = Principals.load(http.auth_file)  # fail at start-up, not on the first request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = http.threads
        lanes.open_lanes(http.read_threads, http.serves_on_loop(settings.backend))
        app.state.runtime = Runtime.open(settings, http)
        try:
            yield
        finally:
            app.state.runtime.close()

    app = FastAPI(title="rmbook", version="1.0.0", description=DESCRIPTION, lifespan=lifespan,
                  openapi_tags=[{"name": n} for n in ("managers", "customers", "custody", "feed",
                                                      "reports", "audit", "rulebooks",
                                                      "operations")])
    app.state.principals = principals
    app.state.http = http
    # FastAPI matches a request against every route of each router in turn (and those of
    # the router it picks twice): the routers read most come first (docs/performance.md).
    for module in (managers, customers, audit, reports, feed, custody, rulebook_routes,
                   operations):
        app.include_router(module.router)
    errors.install(app)
    openapi.install(app)
    # Starlette runs the last added outermost.
    app.add_middleware(IdempotencyMiddleware, wait_seconds=http.idempotency_wait)
    app.add_middleware(BodyLimitMiddleware, limit=http.max_body_bytes,
                       import_limit=http.max_import_bytes)
    app.add_middleware(AccessLogMiddleware)
    access_log.configure()
    return app
