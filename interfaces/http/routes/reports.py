"""Reports over the book projection: tiers, visit compliance, targets, VIP, scorecards."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from domain.errors import NotFound
from interfaces.http import report_responses
from interfaces.http.access import ReportRead
from interfaces.http.deps import (
    AsOfQuery,
    BranchCode,
    BranchQuery,
    FromQuery,
    StaffNoPath,
    ToQuery,
    date_range,
    on_date,
)
from interfaces.http.lanes import view_read
from interfaces.http.models import PERIOD_PATTERN
from interfaces.http.openapi import for_read
from interfaces.http.scoping import branch_filter, manager_branch, visible_branch
from projections.replay import book_reader
from projections.reports import scorecard, targets, tiers, vip, visits

router = APIRouter(prefix="/v1", tags=["reports"])

PeriodQuery = Annotated[str, Query(pattern=PERIOD_PATTERN,
                                   description="2026-03 (month), 2026-Q1, 2026-H1 or 2026",
                                   examples=["2026-Q1"])]


@router.get("/tiers", response_model=report_responses.TiersOut, responses=for_read(),
            summary="Each customer manager's tier and the distribution [S0 §8]")
@view_read(every_branch_without="branch")
def get_tiers(access: ReportRead, branch: BranchQuery = None, as_of: AsOfQuery = None
              ) -> dict[str, Any]:
    chosen = branch_filter(access.principal, branch)
    with book_reader(access.projector, access.known_at) as reader:
        found = tiers.branch_tiers(reader, chosen, on_date(access.bank, as_of))
        # A branch that lists a manager exists: only an empty list costs the probes.
        if chosen is not None and not found["managers"] and not reader.has_branch(chosen):
            raise NotFound(f"branch {chosen} not found", field="branch")  # as /v1/vip does
        return found


@router.get("/visits/compliance", response_model=report_responses.ComplianceOut, responses=for_read(),
            summary="Visit compliance per manager for a period [S0 §14, S4 §11(2)]")
@view_read(every_branch_without="branch")
def get_compliance(period: PeriodQuery, access: ReportRead, branch: BranchQuery = None
                   ) -> dict[str, Any]:
    chosen = branch_filter(access.principal, branch)
    today = access.bank.today()
    visits.reporting_period(period, today)  # refuse a bad period before any replay
    with book_reader(access.projector, access.known_at) as reader:
        return visits.visit_compliance(reader, chosen, period, today)


@router.get("/branches/{code}/targets", response_model=report_responses.TargetsOut,
            responses=for_read(),
            summary="Account-opening targets per ISO week and month [S0 §13(二)(2)]")
@view_read
def get_targets(code: BranchCode, start: FromQuery, to: ToQuery, access: ReportRead
                ) -> dict[str, Any]:
    visible_branch(access.principal, code)
    date_range(start, to)
    with book_reader(access.projector, access.known_at) as reader:
        found = targets.branch_targets(reader, code, start, to, access.bank.today())
    if found is None:
        raise NotFound(f"branch {code} not found", field="branch")
    return found


@router.get("/vip", response_model=report_responses.VipOut, responses=for_read(),
            summary="VIP individual customers with level and criterion met [S2 §6–8]")
@view_read(every_branch_without="branch")
def get_vip(access: ReportRead, branch: BranchQuery = None, as_of: AsOfQuery = None
            ) -> dict[str, Any]:
    chosen = branch_filter(access.principal, branch)
    with book_reader(access.projector, access.known_at) as reader:
        return vip.vip_customers(reader, chosen, on_date(access.bank, as_of))


@router.get("/scorecards/{staff_no}", response_model=report_responses.ScorecardOut,
            responses=for_read(), summary="A manager's scorecard for a period [S0 §16]")
@view_read
def get_scorecard(staff_no: StaffNoPath, period: PeriodQuery, access: ReportRead
                  ) -> dict[str, Any]:
    today = access.bank.today()
    manager_branch(access.bank, access.principal, staff_no)
    visits.reporting_period(period, today)
    with book_reader(access.projector, access.known_at) as reader:
        return scorecard.scorecard(reader, staff_no, period, today)
