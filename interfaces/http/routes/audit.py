"""For auditors: timelines of customers and managers, and the integrity check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from interfaces.http import responses
from interfaces.http.access import AuditRead, AuditReadNow
from interfaces.http.deps import CustomerNo, StaffNoPath
from interfaces.http.lanes import view_read
from interfaces.http.models import MAX_POSITION
from interfaces.http.openapi import for_read
from interfaces.http.scoping import customer_branch, manager_branch
from projections.integrity import verify
from projections.replay import audit_projection
from projections.timelines import timeline

router = APIRouter(prefix="/v1", tags=["audit"])

After = Annotated[int, Query(ge=0, le=MAX_POSITION,
                             description="Events after this position (the previous page's "
                             "next_after).")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Events per page.")]


@router.get("/customers/{no}/timeline", response_model=responses.TimelineOut,
            responses=for_read(), summary="Every event about a customer, in order (DOMAIN §9)")
@view_read
def customer_timeline(no: CustomerNo, access: AuditRead, after: After = 0,
                      limit: Limit = 100) -> dict[str, Any]:
    customer_branch(access.bank, access.principal, no)
    return timeline(audit_projection(access.projector), f"customer:{no}",
                    known_at=access.known_at, after=after, limit=limit)


@router.get("/managers/{staff_no}/timeline", response_model=responses.TimelineOut,
            responses=for_read(), summary="Every event about a manager, in order (DOMAIN §9)")
@view_read
def manager_timeline(staff_no: StaffNoPath, access: AuditRead, after: After = 0,
                     limit: Limit = 100) -> dict[str, Any]:
    manager_branch(access.bank, access.principal, staff_no)
    return timeline(audit_projection(access.projector), f"manager:{staff_no}",
                    known_at=access.known_at, after=after, limit=limit)


@router.get("/audit/verify", response_model=responses.VerifyOut, responses=for_read(),
            summary="Check stored history against the hash chain")
def audit_verify(access: AuditReadNow) -> dict[str, Any]:
    return verify(audit_projection(access.projector)).as_dict()
