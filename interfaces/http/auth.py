"""Principals and what each role may do (API.md, Auth).

Principals come from the TOML file named by `RMBOOK_AUTH_FILE`, read once at
start-up. A token is never kept or compared in clear: each principal holds the
SHA-256 digest of its token (`token` is hashed on load, `token_sha256` taken as
is), and a presented token's digest is compared with every principal's using
`hmac.compare_digest`, so the time taken says nothing about which one matched.

The role table, enforced on every route through `allowed(...)`:

| permission | roles | routes |
|---|---|---|
| `MANAGERS` | admin, branch_admin | POST managers, grade, departure |
| `CUSTOMERS` | admin, branch_admin | POST customers, accounts, account/credit closure, credit, services |
| `CUSTODY` | admin, branch_admin | POST assignment, reassignment |
| `FEED` | admin, feed | POST balances, balance import, non-deposit, status, card spending |
| `VISITS` | admin, manager | POST visits (a manager: own custody, as itself) |
| `RULEBOOKS` | admin | POST rulebooks, POST projections/rebuild |
| `READ` | admin, branch_admin, manager, auditor | GET state and reports (branch-scoped) |
| `AUDIT` | admin, auditor | timelines, `known_at` (time travel, replay), verify, projections, rebuilds |

`/v1/health`, `/v1/ready`, `/docs` and `/openapi.json` need no token: probes and
the schema reveal nothing about the book. Branch scoping is in `scoping.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from interfaces.http.errors import ProblemError

ALL_BRANCHES = "*"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_BRANCH = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class AuthConfigError(ValueError):
    """The principals file is missing or malformed (named by entry, never by token)."""


class Role(StrEnum):
    ADMIN = "admin"
    BRANCH_ADMIN = "branch_admin"
    MANAGER = "manager"
    AUDITOR = "auditor"
    FEED = "feed"


class Permission(StrEnum):
    MANAGERS = "managers"
    CUSTOMERS = "customers"
    CUSTODY = "custody"
    FEED = "feed"
    VISITS = "visits"
    RULEBOOKS = "rulebooks"
    READ = "read"
    AUDIT = "audit"


ROLES: dict[Permission, frozenset[Role]] = {
    Permission.MANAGERS: frozenset({Role.ADMIN, Role.BRANCH_ADMIN}),
    Permission.CUSTOMERS: frozenset({Role.ADMIN, Role.BRANCH_ADMIN}),
    Permission.CUSTODY: frozenset({Role.ADMIN, Role.BRANCH_ADMIN}),
    Permission.FEED: frozenset({Role.ADMIN, Role.FEED}),
    Permission.VISITS: frozenset({Role.ADMIN, Role.MANAGER}),
    Permission.RULEBOOKS: frozenset({Role.ADMIN}),
    Permission.READ: frozenset({Role.ADMIN, Role.BRANCH_ADMIN, Role.MANAGER, Role.AUDITOR}),
    Permission.AUDIT: frozenset({Role.ADMIN, Role.AUDITOR}),
}


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    branches: frozenset[str]
    staff_no: str | None
    digest: bytes

    @property
    def all_branches(self) -> bool:
        return ALL_BRANCHES in self.branches

    def sees(self, branch: str) -> bool:
        return self.all_branches or branch in self.branches

    def may(self, permission: Permission) -> bool:
        return self.role in ROLES[permission]

    @property
    def actor(self) -> str:
        """Who is recorded on events: a manager by staff number, anyone else by name."""
        return self.staff_no if self.role is Role.MANAGER and self.staff_no else self.name


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class Principals:
    def __init__(self, principals: list[Principal]) -> None:
        self.all = principals

    def authenticate(self, token: str) -> Principal | None:
        presented = digest(token)
        found = None
        for principal in self.all:  # no early exit: same work whichever matches
            if hmac.compare_digest(presented, principal.digest):
                found = principal
        return found

    @staticmethod
    def load(path: Path) -> Principals:
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except OSError as e:
            raise AuthConfigError(f"cannot read the auth file {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise AuthConfigError(f"the auth file {path} is not valid TOML: {e}") from None
        entries = data.get("principal", [])
        if not isinstance(entries, list) or not entries:
            raise AuthConfigError(f"the auth file {path} defines no [[principal]]")
        principals = [_principal(i, entry) for i, entry in enumerate(entries, start=1)]
        names = [p.name for p in principals]
        if len(set(names)) != len(names):
            raise AuthConfigError("principal names must be unique (they key idempotency)")
        if len({p.digest for p in principals}) != len(principals):
            raise AuthConfigError("two principals share a token")
        return Principals(principals)


def _principal(index: int, entry: Any) -> Principal:
    where = f"[[principal]] #{index}"
    if not isinstance(entry, dict):
        raise AuthConfigError(f"{where} must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise AuthConfigError(f"{where}: name must be 1-64 characters")
    try:
        role = Role(str(entry.get("role")))
    except ValueError:
        raise AuthConfigError(f"{where} ({name}): role must be one of "
                              f"{', '.join(r.value for r in Role)}") from None
    token, hashed = entry.get("token"), entry.get("token_sha256")
    if (token is None) == (hashed is None):
        raise AuthConfigError(f"{where} ({name}): give exactly one of token or token_sha256")
    if token is not None:
        if not isinstance(token, str) or len(token) < 8:
            raise AuthConfigError(f"{where} ({name}): token must be at least 8 characters")
        key = digest(token)
    else:
        if not isinstance(hashed, str) or not _HEX64.match(hashed):
            raise AuthConfigError(f"{where} ({name}): token_sha256 must be 64 hex digits")
        key = bytes.fromhex(hashed)
    branches = entry.get("branches", [])
    if not isinstance(branches, list) or not branches or not all(
            isinstance(b, str) and (b == ALL_BRANCHES or _BRANCH.match(b)) for b in branches):
        raise AuthConfigError(f"{where} ({name}): branches must list branch codes or \"*\"")
    staff_no = entry.get("staff_no")
    if role is Role.MANAGER and not (isinstance(staff_no, str) and _BRANCH.match(staff_no)):
        raise AuthConfigError(f"{where} ({name}): a manager needs its staff_no")
    return Principal(name, role, frozenset(branches), staff_no if isinstance(staff_no, str)
                     else None, key)


# ---- FastAPI dependencies ------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="A token from the RMBOOK_AUTH_FILE principals.")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _authenticated(request: Request, credentials: HTTPAuthorizationCredentials | None
                   ) -> Principal:
    """401 for no or unknown token; the principal's name goes to the access log."""
    principals: Principals = request.app.state.principals
    found = principals.authenticate(credentials.credentials) if credentials else None
    if found is None:
        raise ProblemError("unauthorized", "a valid bearer token is required",
                           headers={"WWW-Authenticate": 'Bearer realm="rmbook"'})
    note = request.scope.get("rmbook.log")
    if isinstance(note, dict):
        note["principal"] = found.name
    return found


def allowed(permission: Permission) -> Any:
    """A dependency: the principal, if its role has `permission`; else 403.

    It authenticates itself: a dependency of its own would be one more node, and FastAPI
    solves every node of a request's tree, cached ones too (access.py). `async`: a lookup,
    no thread hand-off (deps.py)."""

    async def check(request: Request, credentials: Credentials) -> Principal:
        principal = _authenticated(request, credentials)
        if not principal.may(permission):
            raise ProblemError("forbidden", f"role {principal.role} may not do this "
                               f"({permission} is for {', '.join(sorted(ROLES[permission]))})")
        return principal

    return Depends(check)


Auditor = Annotated[Principal, allowed(Permission.AUDIT)]
ManagersAdmin = Annotated[Principal, allowed(Permission.MANAGERS)]
CustomersAdmin = Annotated[Principal, allowed(Permission.CUSTOMERS)]
CustodyAdmin = Annotated[Principal, allowed(Permission.CUSTODY)]
Feed = Annotated[Principal, allowed(Permission.FEED)]
Visitor = Annotated[Principal, allowed(Permission.VISITS)]
Operator = Annotated[Principal, allowed(Permission.RULEBOOKS)]
