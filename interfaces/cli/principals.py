"""`rmbook auth init`: a local principals file with fresh tokens, one principal per role."""

from __future__ import annotations

import hashlib
import os
import secrets
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from interfaces.cli.main import _fail, app, command_group

auth_app = command_group("Principals of the HTTP API (RMBOOK_AUTH_FILE).")
app.add_typer(auth_app, name="auth")


def _principals(branch: str, staff_no: str) -> list[dict[str, Any]]:
    return [
        {"name": "local-admin", "role": "admin", "branches": ["*"]},
        {"name": f"local-branch-admin-{branch}", "role": "branch_admin", "branches": [branch]},
        {"name": f"local-manager-{staff_no}", "role": "manager", "branches": [branch],
         "staff_no": staff_no},
        {"name": "local-auditor", "role": "auditor", "branches": ["*"]},
        {"name": "local-feed", "role": "feed", "branches": ["*"]},
    ]


def _toml(entries: list[dict[str, Any]]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    blocks = ["# rmbook principals (RMBOOK_AUTH_FILE). Local use only: never commit this file."]
    for entry in entries:
        blocks.append("[[principal]]\n" + "\n".join(f"{k} = {value(v)}" for k, v in entry.items()))
    return "\n\n".join(blocks) + "\n"


@auth_app.command("init")
def init(
    path: Annotated[Path, typer.Option(help="Where to write the principals file.")]
    = Path("var/rmbook-auth.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file "
                                        "(new tokens).")] = False,
    hashed: Annotated[bool, typer.Option("--hashed", help="Store only SHA-256 digests "
                                         "(token_sha256); the tokens are shown this once.")]
    = False,
    branch: Annotated[str, typer.Option(help="Branch of the branch admin and manager.")] = "B01",
    staff_no: Annotated[str, typer.Option(help="staff_no of the manager principal.")] = "M0001",
) -> None:
    """Write a principals file with a fresh token for each role, unless one exists; print tokens."""
    if path.exists() and not force:
        typer.echo(f"{path} exists; not overwritten (--force makes new tokens)")
        _show(path)
        return
    entries = _principals(branch, staff_no)
    tokens = {e["name"]: secrets.token_urlsafe(24) for e in entries}
    for entry in entries:
        token = tokens[entry["name"]]
        entry.update({"token_sha256": hashlib.sha256(token.encode()).hexdigest()} if hashed
                     else {"token": token})
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created private from the start: the file holds credentials.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(_toml(entries))
    typer.echo(f"wrote {path}")
    _print([(e["name"], e["role"], tokens[e["name"]]) for e in entries])


def _show(path: Path) -> None:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        _fail(f"cannot read {path}: {e}", 2)
        return
    _print([(str(p.get("name")), str(p.get("role")), str(p.get("token", "(stored hashed)")))
            for p in data.get("principal", [])])


def _print(rows: list[tuple[str, str, str]]) -> None:
    # Plain lines, not a table: a token must never be wrapped or cut to fit a terminal.
    typer.echo("principals — send Authorization: Bearer <token>")
    for name, role, token in rows:
        typer.echo(f"  {role:<13} {name:<28} {token}")
