"""A read's access, in one dependency: who asks, through which runtime, at which recorded
time (`known_at`), once which position (`min_position`) is visible.

FastAPI solves every node of a request's dependency tree, the cached ones too (it
recurses before it looks in its cache). A read's principal, bank, projector, known_at
and min_position as dependencies of their own made fourteen nodes per request, a fifth
of a read's server time; one `Access` on top of the role's check makes four
(docs/performance.md, HTTP).

The checks keep their order: 401, 403 for the role, 422 for a malformed query, 403 for
`known_at` without the audit permission, then the wait for `min_position` (in a worker
thread, never on the event loop).
"""

# No `from __future__ import annotations`: FastAPI reads the parameters' annotations, and
# the role's check in them is a local of `reading`, which a string could not name.
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from application.service import BookOfBusiness
from interfaces.http.auth import Permission, Principal, allowed
from interfaces.http.consistency import wait_for_projections, wait_for_store
from interfaces.http.errors import ProblemError
from interfaces.http.models import MAX_POSITION, Instant
from interfaces.http.runtime import Runtime
from projections.runner import Projector


@dataclass(frozen=True, slots=True)
class Access:
    principal: Principal
    runtime: Runtime
    known_at: datetime | None = None  # None: what the store knows now

    @property
    def bank(self) -> BookOfBusiness:
        return self.runtime.bank

    @property
    def projector(self) -> Projector:
        return self.runtime.projector


KnownAtQuery = Annotated[Instant | None, Query(description=(
    "Recorded instant (ISO 8601, UTC when no offset): what the store knew then. "
    "Auditors and admins only; on reports it replays the projection."))]
MinPositionQuery = Annotated[int | None, Query(
    ge=0, le=MAX_POSITION, description="Wait until this event position (an X-Event-Position) "
    "is visible; 503 projection_lagging if it is not in time.")]

Wait = Callable[[Runtime, int], None]


def reading(permission: Permission, wait: Wait) -> Any:
    """A read that may travel in recorded time: `known_at` and `min_position`."""

    async def access(request: Request, principal: Annotated[Principal, allowed(permission)],
                     known_at: KnownAtQuery = None, min_position: MinPositionQuery = None
                     ) -> Access:
        if known_at is not None and not principal.may(Permission.AUDIT):
            raise ProblemError("forbidden", "time travel by recorded time (known_at) is for "
                               "auditors", errors=[{"field": "known_at",
                                                    "message": "auditors only"}])
        return await _after(Access(principal, request.app.state.runtime, known_at), wait,
                            min_position)

    return Depends(access)


def reading_now(permission: Permission, wait: Wait) -> Any:
    """A read of the present only: `min_position`, no `known_at`."""

    async def access(request: Request, principal: Annotated[Principal, allowed(permission)],
                     min_position: MinPositionQuery = None) -> Access:
        return await _after(Access(principal, request.app.state.runtime), wait, min_position)

    return Depends(access)


async def _after(access: Access, wait: Wait, min_position: int | None) -> Access:
    if min_position is not None:  # waiting blocks: in a worker thread, not the event loop
        await run_in_threadpool(wait, access.runtime, min_position)
    return access


# Reports and timelines read the projections; a customer's or manager's state, the store.
ReportRead = Annotated[Access, reading(Permission.READ, wait_for_projections)]
AuditRead = Annotated[Access, reading(Permission.AUDIT, wait_for_projections)]
StateRead = Annotated[Access, reading(Permission.READ, wait_for_store)]
ReportReadNow = Annotated[Access, reading_now(Permission.READ, wait_for_projections)]
AuditReadNow = Annotated[Access, reading_now(Permission.AUDIT, wait_for_projections)]
StateReadNow = Annotated[Access, reading_now(Permission.READ, wait_for_store)]
