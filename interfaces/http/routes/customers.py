"""Customers: onboarding, accounts, credit, services; state and attribution."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from application import commands as c
from application.service import BookOfBusiness
from domain.errors import NotFound
from interfaces.http import presenters, report_responses, responses
from interfaces.http.access import ReportRead, StateRead
from interfaces.http.auth import CustomersAdmin
from interfaces.http.deps import (
    AccountNo,
    AsOfQuery,
    Bank,
    CustomerNo,
    FromQuery,
    ToQuery,
    date_range,
    on_date,
    written,
)
from interfaces.http.lanes import short_write, view_read
from interfaces.http.models import (
    GrantCreditBody,
    OnboardCustomerBody,
    OnBody,
    OpenAccountBody,
    ServiceBody,
)
from interfaces.http.openapi import for_read, for_write
from interfaces.http.scoping import customer_branch, manager_branch, may_change_branch
from projections.replay import book_reader
from projections.reports import attribution

router = APIRouter(prefix="/v1/customers", tags=["customers"])


def _state(bank: BookOfBusiness, customer_no: str) -> dict[str, Any]:
    """A write about a customer answers its state today."""
    today = bank.today()
    return presenters.customer(bank.customer_view(customer_no, today), today)


@router.post("", status_code=201, response_model=responses.CustomerOut,
             responses=for_write(201), summary="Onboard a customer")
@short_write
def onboard(body: OnboardCustomerBody, principal: CustomersAdmin, bank: Bank,
            response: Response) -> dict[str, Any]:
    may_change_branch(principal, body.branch)
    if body.marketed_by is not None:
        manager_branch(bank, principal, body.marketed_by, "marketed_by")
    written(response, bank, bank.onboard_customer(
        c.OnboardCustomer(**body.model_dump(), actor=principal.actor)))
    response.headers["Location"] = f"/v1/customers/{body.customer_no}"
    return _state(bank, body.customer_no)


@router.get("/{no}", response_model=responses.CustomerOut, responses=for_read(),
            summary="A customer's state: custodian, credit, accounts, status (time travel)")
@view_read
def get_customer(no: CustomerNo, access: StateRead, as_of: AsOfQuery = None) -> dict[str, Any]:
    bank = access.bank
    customer_branch(bank, access.principal, no)
    on = on_date(bank, as_of)
    return presenters.customer(bank.customer_view(no, on, access.known_at), on)


@router.post("/{no}/accounts", status_code=201, response_model=responses.AccountOut,
             responses=for_write(201), summary="Open an account")
@short_write
def open_account(no: CustomerNo, body: OpenAccountBody, principal: CustomersAdmin, bank: Bank,
                 response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    written(response, bank, bank.open_account(
        c.OpenAccount(customer_no=no, **body.model_dump(), actor=principal.actor)))
    return {**body.model_dump(exclude={"reason"}), "closed_on": None}


@router.post("/{no}/accounts/{account_no}/closure", response_model=responses.AccountClosureOut,
             responses=for_write(200), summary="Close an account (the last one closes the customer)")
@short_write
def close_account(no: CustomerNo, account_no: AccountNo, body: OnBody,
                  principal: CustomersAdmin, bank: Bank, response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    result = written(response, bank, bank.close_account(c.CloseAccount(
        customer_no=no, account_no=account_no, **body.model_dump(), actor=principal.actor)))
    return {"customer_no": no, "account_no": account_no, "closed_on": body.on,
            "customer_closed": result["customer_closed"]}


@router.post("/{no}/credit", response_model=responses.CustomerOut, responses=for_write(200),
             summary="Grant credit (the customer becomes a credit customer)")
@short_write
def grant_credit(no: CustomerNo, body: GrantCreditBody, principal: CustomersAdmin, bank: Bank,
                 response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    written(response, bank, bank.grant_credit(
        c.GrantCredit(customer_no=no, **body.model_dump(), actor=principal.actor)))
    return _state(bank, no)


@router.post("/{no}/credit/closure", response_model=responses.CustomerOut,
             responses=for_write(200), summary="Close the credit line")
@short_write
def close_credit(no: CustomerNo, body: OnBody, principal: CustomersAdmin, bank: Bank,
                 response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    written(response, bank, bank.close_credit(
        c.CloseCredit(customer_no=no, **body.model_dump(), actor=principal.actor)))
    return _state(bank, no)


@router.post("/{no}/services", response_model=responses.ServiceOut, responses=for_write(200),
             summary="Record a signed service (payroll, e-banking)")
@short_write
def sign_service(no: CustomerNo, body: ServiceBody, principal: CustomersAdmin, bank: Bank,
                 response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    result = written(response, bank, bank.sign_service(
        c.SignService(customer_no=no, **body.model_dump(), actor=principal.actor)))
    return {"customer_no": no, "service": body.service, "on": body.on,
            "signed": result["signed"]}


@router.get("/{no}/attribution", response_model=report_responses.CustomerAttributionOut,
            responses=for_read(),
            summary="Balance-days and daily averages credited to each party (DOMAIN §5)")
@view_read
def get_attribution(no: CustomerNo, start: FromQuery, to: ToQuery, access: ReportRead
                    ) -> dict[str, Any]:
    customer_branch(access.bank, access.principal, no)
    date_range(start, to)
    with book_reader(access.projector, access.known_at) as reader:
        found = attribution.customer_attribution(reader, no, start, to)
    if found is None:
        raise NotFound(f"customer {no} not found", field="customer_no")
    return found
