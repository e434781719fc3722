"""Customers over HTTP: onboarding, accounts, credit, services; state and time travel."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import JAN1, Api
from tests.api.support import position, problem


def customer(no: str = "C5", **changes: Any) -> dict[str, Any]:
    body = {"customer_no": no, "name": f"{no} Co", "segment": "corporate", "branch": "B1",
            "origin": "natural", "onboarded_on": JAN1}
    body.update(changes)
    return body


def test_onboard_answers_the_customer(seeded: Api) -> None:
    response = seeded.post("/v1/customers", customer(origin="marketed", marketed_by="M1",
                                                     used_branch_resources=True))
    assert response.status_code == 201, response.text
    position(response)
    assert response.headers["Location"] == "/v1/customers/C5"
    body = response.json()
    assert body["origin"] == "marketed" and body["marketed_by"] == "M1"
    assert body["custodian"] is None and body["accounts"] == [] and body["deposit"] == "0.00"
    assert body["status"] == "normal" and body["credit_customer"] is False


def test_onboard_refusals(shared_api: Api) -> None:
    seeded = shared_api
    problem(seeded.post("/v1/customers", customer("C1")), 409, "already_exists")
    problem(seeded.post("/v1/customers", customer(segment="retail")), 422, "validation_error",
            "segment")
    problem(seeded.post("/v1/customers", customer(onboarded_on="2026-11-02")), 422,
            "date_out_of_range", "onboarded_on")
    problem(seeded.post("/v1/customers", customer(origin="marketed", marketed_by="M404")),
            404, "not_found", "marketed_by")
    problem(seeded.post("/v1/customers", customer(nickname="x")), 422, "validation_error",
            "nickname")


def test_accounts_open_and_close_and_their_refusals(seeded: Api) -> None:
    opened = seeded.post("/v1/customers/C1/accounts", {"account_no": "G1", "type": "general",
                                                        "currency": "USD", "opened_on": JAN1})
    assert opened.status_code == 201, opened.text
    assert opened.json() == {"account_no": "G1", "type": "general", "currency": "USD",
                             "opened_on": JAN1, "closed_on": None}
    problem(seeded.post("/v1/customers/C1/accounts", {"account_no": "B2", "type": "basic",
                                                      "currency": "CNY", "opened_on": JAN1}),
            409, "second_basic_account")
    problem(seeded.post("/v1/customers/C1/accounts", {"account_no": "G1", "type": "general",
                                                      "currency": "CNY", "opened_on": JAN1}),
            409, "already_exists", "account_no")
    problem(seeded.post("/v1/customers/C1/accounts", {"account_no": "G2", "type": "general",
                                                      "currency": "CNY",
                                                      "opened_on": "2025-12-31"}),
            422, "date_out_of_range")
    closed = seeded.post("/v1/customers/C1/accounts/G1/closure", {"on": "2026-06-01"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["customer_closed"] is False
    problem(seeded.post("/v1/customers/C1/accounts/G1/closure", {"on": "2026-06-02"}), 409,
            "account_closed")
    problem(seeded.post("/v1/customers/C1/accounts/NOPE/closure", {"on": "2026-06-02"}), 404,
            "not_found")
    last = seeded.post("/v1/customers/C1/accounts/AC1/closure", {"on": "2026-07-01"})
    assert last.json()["customer_closed"] is True
    state = seeded.get("/v1/customers/C1").json()
    assert state["closed_on"] == "2026-07-01" and state["custodian"] is None
    problem(seeded.post("/v1/customers/C1/accounts", {"account_no": "G3", "type": "general",
                                                      "currency": "CNY",
                                                      "opened_on": "2026-08-01"}),
            409, "customer_closed")


def test_credit_grant_and_close(seeded: Api) -> None:
    granted = seeded.post("/v1/customers/C1/credit", {"limit": "5000000.00",
                                                      "granted_on": "2026-03-01"})
    assert granted.status_code == 200, granted.text
    assert granted.json()["credit_customer"] is True
    problem(seeded.post("/v1/customers/C1/credit", {"limit": "1.00",
                                                    "granted_on": "2026-04-01"}),
            409, "already_exists")
    problem(seeded.post("/v1/customers/C1/credit", {"limit": "-5", "granted_on": "2026-04-01"}),
            422, "validation_error", "limit")
    closed = seeded.post("/v1/customers/C1/credit/closure", {"on": "2026-09-01"})
    assert closed.status_code == 200 and closed.json()["credit_customer"] is False
    problem(seeded.post("/v1/customers/C1/credit/closure", {"on": "2026-09-02"}), 404,
            "not_found")
    was = seeded.get("/v1/customers/C1", params={"as_of": "2026-05-01"}).json()
    assert was["credit_customer"] is True


def test_services_are_signed_once(seeded: Api) -> None:
    first = seeded.post("/v1/customers/C1/services", {"service": "payroll", "on": "2026-05-01"})
    assert first.status_code == 200 and first.json()["signed"] is True
    again = seeded.post("/v1/customers/C1/services", {"service": "payroll", "on": "2026-05-01"})
    assert again.json()["signed"] is False
    assert int(again.headers["X-Event-Position"]) == position(first)  # no-op: the head
    problem(seeded.post("/v1/customers/C1/services", {"service": "lunch", "on": "2026-05-01"}),
            422, "validation_error", "service")
    assert seeded.get("/v1/customers/C1").json()["services"] == {"payroll": "2026-05-01"}


def test_customer_state_and_time_travel(shared_api: Api) -> None:
    seeded = shared_api
    state = seeded.get("/v1/customers/C1").json()
    assert state["custodian"] == "M1" and state["deposit"] == "1000000.00"
    assert state["custody"]["chain"][0]["claim_ratio"] == "0.50"
    assert [a["account_no"] for a in state["accounts"]] == ["AC1"]
    problem(seeded.get("/v1/customers/C1", params={"as_of": "2025-12-31"}), 404, "not_found")
    problem(seeded.get("/v1/customers/C1", params={"known_at": "2001-01-01T00:00:00"},
                       as_="auditor"), 404, "not_found")
    now = seeded.get("/v1/customers/C1", params={"known_at": "2999-01-01T00:00:00Z"},
                     as_="auditor")
    assert now.status_code == 200 and now.json()["custodian"] == "M1"
    problem(seeded.get("/v1/customers/C404"), 404, "not_found")
