"""`rmbook serve`: the HTTP API of API.md under uvicorn (registered on the main app)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from interfaces.cli.main import _fail, app

if TYPE_CHECKING:
    from application.settings import Settings

APP_FACTORY = "interfaces.http.app:create_app"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int | None, typer.Option(
        help="Server processes, each with its own store connections. Default "
             "(RMBOOK_HTTP_WORKERS, else): on SQLite 1; on PostgreSQL one per core, at most 2 "
             "(ADR 0023). On PostgreSQL, serve warns at start when the processes could open "
             "more connections than the server's max_connections.",
        show_default=False)] = None,
) -> None:
    """Serve the HTTP API (docs at /docs). Principals: the TOML file named by RMBOOK_AUTH_FILE.

    On SQLite each server process keeps the projections up to date itself; on PostgreSQL
    that is left to `rmbook project --follow` workers unless RMBOOK_PROJECT_IN_PROCESS=1
    (reads catch up themselves meanwhile, RMBOOK_READS_CATCH_UP).

    Several processes each accept on a socket of their own on the same port (SO_REUSEPORT),
    so the kernel spreads connections across them; one that dies is replaced (ADR 0023).
    One holding more than its share of the open connections answers a request with
    `Connection: close`, and the client's next connection is placed anew (ADR 0025;
    RMBOOK_HTTP_SPREAD_CONNECTIONS=0 leaves the kernel's split alone).
    """
    import uvicorn  # the API's imports are paid only by `serve`, not by every command

    from application.settings import Settings
    from interfaces.http.auth import AuthConfigError, Principals
    from interfaces.http.config import HttpSettings, HttpSettingsError
    from projections.audit_apart import cores

    try:
        http = HttpSettings.from_env()
        if http.auth_file is None:
            _fail("set RMBOOK_AUTH_FILE to the principals file (rmbook auth init makes one)", 2)
            return
        Principals.load(http.auth_file)  # refuse a bad file here, with a readable message
        settings = Settings.from_env()
    except (AuthConfigError, HttpSettingsError, ValueError) as e:
        _fail(str(e), 2)
        return
    if workers is not None and workers < 1:
        _fail("--workers must be at least 1", 2)
    processes = workers if workers is not None else http.workers_for(settings.backend, cores())
    if settings.backend == "postgres":
        _warn_over_connections(settings, processes, http.connections_per_worker(
            _store_pool(settings)))
    os.environ.setdefault("RMBOOK_AUTH_FILE", str(http.auth_file))
    # Our access log replaces uvicorn's, which would log query strings.
    options: dict[str, Any] = {"app": APP_FACTORY, "factory": True, "access_log": False,
                               "proxy_headers": True}
    if processes == 1:
        uvicorn.run(**options, host=host, port=port)
        return
    from interfaces.cli.serve_processes import ServerProcesses, listening_sockets

    try:
        sockets = listening_sockets(host, port, processes)
    except OSError as e:
        _fail(f"cannot listen on {host}:{port}: {e}", 1)
        return
    raise typer.Exit(ServerProcesses(sockets, options, spread=http.spread_connections).run())


def _store_pool(settings: Settings) -> int:
    env = settings.eventsourcing_env()
    return int(env["POSTGRES_POOL_SIZE"]) + int(env["POSTGRES_MAX_OVERFLOW"])


def _warn_over_connections(settings: Settings, processes: int, per_process: int) -> None:
    """Say so before starting when the processes could open more connections than the
    server takes: under load the last ones would fail with "too many clients"."""
    from application.settings import postgres_connection

    try:
        with postgres_connection(settings) as conn:
            allowed = int(conn.execute("SHOW max_connections").fetchone()[0])
    except Exception as e:  # the server's own start-up reports an unreachable database
        typer.echo(f"rmbook serve: could not ask PostgreSQL for max_connections ({e})", err=True)
        return
    if processes * per_process > allowed:
        typer.echo(f"rmbook serve: warning: {processes} processes may open up to "
                   f"{processes * per_process} PostgreSQL connections ({per_process} each), "
                   f"and the server allows {allowed} in all (max_connections); lower "
                   "--workers or RMBOOK_HTTP_THREADS, or raise max_connections", err=True)
