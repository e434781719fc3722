"""`rmbook serve`: the HTTP API of API.md under uvicorn (registered on the main app)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from interfaces.cli.main import _fail, app

APP_FACTORY = "interfaces.http.app:create_app"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each with its own store "
                                         "connections; on PostgreSQL run `rmbook project "
                                         "--follow` beside them).")] = 1,
) -> None:
    """Serve the HTTP API (docs at /docs). Principals: the TOML file named by RMBOOK_AUTH_FILE.

    On SQLite each server process keeps the projections up to date itself; on PostgreSQL
    that is left to `rmbook project --follow` workers unless RMBOOK_PROJECT_IN_PROCESS=1.
    """
    import uvicorn  # the API's imports are paid only by `serve`, not by every command

    from interfaces.http.auth import AuthConfigError, Principals
    from interfaces.http.config import HttpSettings, HttpSettingsError

    try:
        http = HttpSettings.from_env()
        if http.auth_file is None:
            _fail("set RMBOOK_AUTH_FILE to the principals file (rmbook auth init makes one)", 2)
            return
        Principals.load(http.auth_file)  # refuse a bad file here, with a readable message
    except (AuthConfigError, HttpSettingsError) as e:
        _fail(str(e), 2)
        return
    if workers < 1:
        _fail("--workers must be at least 1", 2)
    os.environ.setdefault("RMBOOK_AUTH_FILE", str(http.auth_file))
    # Our access log replaces uvicorn's, which would log query strings.
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers,
                access_log=False, proxy_headers=True)
