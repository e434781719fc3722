"""Managers: register, grade, departure; state, tier, book, attribution, timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from application import commands as c
from domain.errors import NotFound
from interfaces.http import presenters, report_responses, responses
from interfaces.http.access import ReportRead, StateRead
from interfaces.http.auth import ManagersAdmin
from interfaces.http.deps import (
    AsOfQuery,
    Bank,
    FromQuery,
    StaffNoPath,
    ToQuery,
    date_range,
    on_date,
    written,
)
from interfaces.http.lanes import short_write, view_read
from interfaces.http.models import ChangeGradeBody, DepartureBody, RegisterManagerBody
from interfaces.http.openapi import for_read, for_write
from interfaces.http.scoping import manager_branch, may_change_branch
from projections.replay import book_reader
from projections.reports import attribution, tiers

router = APIRouter(prefix="/v1/managers", tags=["managers"])


@router.post("", status_code=201, response_model=responses.ManagerOut,
             responses=for_write(201), summary="Register a manager")
@short_write
def register_manager(body: RegisterManagerBody, principal: ManagersAdmin, bank: Bank,
                     response: Response) -> dict[str, Any]:
    may_change_branch(principal, body.branch)
    receipt = bank.register_manager(c.RegisterManager(**body.model_dump(), actor=principal.actor))
    written(response, bank, receipt)
    response.headers["Location"] = f"/v1/managers/{body.staff_no}"
    return presenters.manager(bank.manager_view(body.staff_no), bank.today())


@router.post("/{staff_no}/grade", response_model=responses.ManagerOut,
             responses=for_write(200), summary="Change a manager's grade and band")
@short_write
def change_grade(staff_no: StaffNoPath, body: ChangeGradeBody, principal: ManagersAdmin,
                 bank: Bank, response: Response) -> dict[str, Any]:
    manager_branch(bank, principal, staff_no)
    written(response, bank, bank.change_grade(
        c.ChangeGrade(staff_no=staff_no, **body.model_dump(), actor=principal.actor)))
    return presenters.manager(bank.manager_view(staff_no), bank.today())


@router.post("/{staff_no}/departure", response_model=responses.DepartureOut,
             responses=for_write(200), summary="Record a manager's departure")
@short_write
def record_departure(staff_no: StaffNoPath, body: DepartureBody, principal: ManagersAdmin,
                     bank: Bank, response: Response) -> dict[str, Any]:
    manager_branch(bank, principal, staff_no)
    result = written(response, bank, bank.record_departure(
        c.RecordDeparture(staff_no=staff_no, **body.model_dump(), actor=principal.actor)))
    view = presenters.manager(bank.manager_view(staff_no), bank.today())
    return {**view, "needs_reassignment": result["needs_reassignment"]}


@router.get("/{staff_no}", response_model=responses.ManagerOut, responses=for_read(),
            summary="A manager's state (time travel: as_of, known_at)")
@view_read
def get_manager(staff_no: StaffNoPath, access: StateRead, as_of: AsOfQuery = None
                ) -> dict[str, Any]:
    bank = access.bank
    manager_branch(bank, access.principal, staff_no)
    on = on_date(bank, as_of)
    return presenters.manager(bank.manager_view(staff_no, on, access.known_at), on)


@router.get("/{staff_no}/tier", response_model=report_responses.TierOut, responses=for_read(),
            summary="A manager's tier [S0 §8]")
@view_read
def get_tier(staff_no: StaffNoPath, access: ReportRead, as_of: AsOfQuery = None
             ) -> dict[str, Any]:
    manager_branch(access.bank, access.principal, staff_no)
    with book_reader(access.projector, access.known_at) as reader:
        found = tiers.manager_tier(reader, staff_no, on_date(access.bank, as_of))
    return _found(found, staff_no)


@router.get("/{staff_no}/book", response_model=report_responses.BookOut, responses=for_read(),
            summary="Customers in custody, with basis and ratios")
@view_read
def get_book(staff_no: StaffNoPath, access: ReportRead, as_of: AsOfQuery = None
             ) -> dict[str, Any]:
    manager_branch(access.bank, access.principal, staff_no)
    with book_reader(access.projector, access.known_at) as reader:
        found = tiers.manager_book(reader, staff_no, on_date(access.bank, as_of))
    return presenters.book(_found(found, staff_no))


@router.get("/{staff_no}/attribution", response_model=report_responses.ManagerAttributionOut,
            responses=for_read(),
            summary="Attributed daily averages per customer and in total (DOMAIN §5)")
@view_read
def get_attribution(staff_no: StaffNoPath, start: FromQuery, to: ToQuery, access: ReportRead
                    ) -> dict[str, Any]:
    manager_branch(access.bank, access.principal, staff_no)
    date_range(start, to)
    with book_reader(access.projector, access.known_at) as reader:
        found = attribution.manager_attribution(reader, staff_no, start, to)
    return _found(found, staff_no)


def _found(report: dict[str, Any] | None, staff_no: str) -> dict[str, Any]:
    if report is None:  # known to the store, not (yet, or at known_at) to the projection
        raise NotFound(f"manager {staff_no} not found", field="staff_no")
    return report
