"""Custody (管户): first assignment and reassignment; visits by the custodian."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from application import commands as c
from interfaces.http import presenters, responses
from interfaces.http.auth import CustodyAdmin, Visitor
from interfaces.http.deps import Bank, CustomerNo, written
from interfaces.http.lanes import short_write
from interfaces.http.models import AssignmentBody, ReassignmentBody, VisitBody
from interfaces.http.openapi import for_write
from interfaces.http.scoping import customer_branch, manager_branch, may_log_visit

router = APIRouter(prefix="/v1/customers", tags=["custody"])


@router.post("/{no}/assignment", status_code=201, response_model=responses.CustodyOut,
             responses=for_write(201), summary="Assign the first custodian [S0 §12]")
@short_write
def assign(no: CustomerNo, body: AssignmentBody, principal: CustodyAdmin, bank: Bank,
           response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    manager_branch(bank, principal, body.staff_no)
    receipt = bank.assign(c.Assign(customer_no=no, **body.model_dump(), actor=principal.actor))
    return presenters.custody(written(response, bank, receipt))


@router.post("/{no}/reassignment", response_model=responses.ReassignmentOut,
             responses=for_write(200),
             summary="Reassign: handover (stock stays, increment shared) or full transfer")
@short_write
def reassign(no: CustomerNo, body: ReassignmentBody, principal: CustodyAdmin, bank: Bank,
             response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    manager_branch(bank, principal, body.to_staff_no, "to_staff_no")
    receipt = bank.reassign(c.Reassign(customer_no=no, **body.model_dump(),
                                       actor=principal.actor))
    return presenters.reassignment(written(response, bank, receipt))


@router.post("/{no}/visits", status_code=201, response_model=responses.VisitOut,
             responses=for_write(201), summary="Log a visit [S0 §14]")
@short_write
def log_visit(no: CustomerNo, body: VisitBody, principal: Visitor, bank: Bank,
              response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    may_log_visit(bank, principal, no, body.staff_no)
    manager_branch(bank, principal, body.staff_no)
    written(response, bank, bank.log_visit(
        c.LogVisit(customer_no=no, **body.model_dump(), actor=principal.actor)))
    return {"customer_no": no, **body.model_dump(exclude={"reason"})}
