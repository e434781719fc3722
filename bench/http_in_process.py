"""The served API's own cost per request: the application called in process, no sockets.

Over sockets, the mix's rate against `/v1/health` mixes the server's cost with the
client's, the kernel's and the VM's noise. Here the same application (`create_app`,
its lifespan, middleware and access log; the log written to /dev/null) is called
through ASGI, one request after another, in a process of its own: first
`/v1/health`, then the mix of `http_load.plan`. What each request costs the server
alone, by kind, is what a change to the serving code can move (ADR 0032). The times
are wall time, one request at a time: on PostgreSQL they include the round trips and
the database's own work, on the same machine. Not a target of BENCHMARKS.md; it
explains the HTTP figures beside it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Coroutine
from datetime import date
from pathlib import Path
from typing import Any

from application.settings import Settings
from bench.child import in_child
from bench.http_load import Request, Subjects, plan

WARM_UP = 200  # requests of each before the timing: caches, the lane's threads, the planner


def measure(database_url: str, subjects: Subjects, today: date, count: int) -> dict[str, Any]:
    """`/v1/health` and the mix, `count` requests each after a warm-up, in a fresh process."""
    found: dict[str, Any] = in_child(_measure, (database_url, subjects, today, count),
                                     "the in-process HTTP measure")
    return found


def _measure(database_url: str, subjects: Subjects, today: date, count: int,
             results: Any) -> None:
    from interfaces.http.app import create_app  # in the child: its imports are its own
    from interfaces.http.config import HttpSettings

    token = os.urandom(16).hex()
    with tempfile.TemporaryDirectory(prefix="rmbook-bench-asgi-") as folder:
        auth = Path(folder) / "auth.toml"
        auth.write_text(f'[[principal]]\ntoken = "{token}"\nname = "bench"\nrole = "admin"\n'
                        f'branches = ["*"]\n', "utf-8")
        _log_to_nowhere()
        settings = Settings.from_env({**os.environ, "RMBOOK_DATABASE_URL": database_url,
                                      "RMBOOK_TODAY": today.isoformat()})
        app = create_app(settings, auth, HttpSettings.from_env())
        health = [Request("health", "GET", "/v1/health")] * count
        mix = plan(subjects, today, count, seed=11)  # not the socket run's requests
        results.put(_run(_timed(app, token, health, mix)))


def _run(main: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """On the event loop `rmbook serve` runs: uvicorn takes uvloop where it is installed
    (`uvicorn[standard]`, not on Windows), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - installed with uvicorn[standard] on Linux
        return asyncio.run(main)
    return uvloop.run(main)


def _log_to_nowhere() -> None:
    """The access log formats and writes every line, as when served, but to /dev/null
    (`access_log.configure` keeps a handler already there)."""
    log = logging.getLogger("rmbook.access")
    handler = logging.FileHandler(os.devnull)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


async def _timed(app: Any, token: str, health: list[Request], mix: list[Request]
                 ) -> dict[str, Any]:
    async with app.router.lifespan_context(app):
        for request in mix[:WARM_UP] + health[:WARM_UP]:
            await _call(app, token, request)
        health_ms, _ = await _each(app, token, health)
        mix_ms, statuses = await _each(app, token, mix)
    by_kind: dict[str, list[float]] = {}
    for request, ms in zip(mix, mix_ms, strict=True):
        by_kind.setdefault(request.kind, []).append(ms)
    health_mean, mix_mean = statistics.fmean(health_ms), statistics.fmean(mix_ms)
    return {
        "requests_each": len(mix),
        "health_ms": round(health_mean, 4),
        "mix_ms": round(mix_mean, 4),
        # As the socket run's ratio: the mix's rate against health's, one at a time.
        "ratio_to_health": round(health_mean / mix_mean, 3),
        "errors": sum(1 for status in statuses if status >= 400),
        "by_kind": {kind: {"n": len(ms), "mean_ms": round(statistics.fmean(ms), 4),
                           "p50_ms": round(statistics.median(ms), 4)}
                    for kind, ms in sorted(by_kind.items())},
    }


async def _each(app: Any, token: str, requests: list[Request]) -> tuple[list[float], list[int]]:
    times: list[float] = []
    statuses: list[int] = []
    for request in requests:
        started = time.perf_counter()
        statuses.append(await _call(app, token, request))
        times.append((time.perf_counter() - started) * 1000)
    return times, statuses


async def _call(app: Any, token: str, request: Request) -> int:
    """One request through the application's ASGI interface, as uvicorn would send it."""
    path, _, query = request.path.partition("?")
    body = request.body or b""
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    if body:
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": request.method, "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000), "state": {}}
    delivered = False
    disconnected = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnected.wait()  # never set: the request has no more to give
        return {"type": "http.disconnect"}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status
