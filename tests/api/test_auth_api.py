"""Who may do what (API.md's role table), branch scoping, 401 and 403."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import TOKENS, Api
from tests.api.support import problem

ROLES = ("admin", "branch_admin", "manager", "auditor", "feed")
ADMINS = {"admin", "branch_admin"}
READERS = {"admin", "branch_admin", "manager", "auditor"}
AUDIT = {"admin", "auditor"}
FEED = {"admin", "feed"}
ON = {"on": "2026-10-01"}

# (method, path, body, roles allowed) — every route of API.md, resources of branch B1.
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/managers", {"staff_no": "M7", "name": "Staff M7", "branch": "B1",
                              "role": "customer_manager", "grade": "manager", "band": 1,
                              "hired_on": "2020-01-01"}, ADMINS),
    ("POST", "/v1/managers/M2/grade", {"grade": "senior", "band": 1,
                                       "effective_on": "2026-07-01"}, ADMINS),
    ("POST", "/v1/managers/M2/departure", {"on": "2026-10-30"}, ADMINS),
    ("POST", "/v1/customers", {"customer_no": "C7", "name": "C7 Co", "segment": "corporate",
                               "branch": "B1", "origin": "natural",
                               "onboarded_on": "2026-01-01"}, ADMINS),
    ("POST", "/v1/customers/C1/accounts", {"account_no": "G7", "type": "general",
                                           "currency": "CNY", "opened_on": "2026-02-01"},
     ADMINS),
    ("POST", "/v1/customers/C1/accounts/G7/closure", ON, ADMINS),
    ("POST", "/v1/customers/C1/credit", {"limit": "10.00", "granted_on": "2026-02-01"}, ADMINS),
    ("POST", "/v1/customers/C1/credit/closure", ON, ADMINS),
    ("POST", "/v1/customers/C1/services", {"service": "e_banking", "on": "2026-02-01"}, ADMINS),
    ("POST", "/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": "5.00"}, FEED),
    ("POST", "/v1/balances/import", None, FEED),
    ("POST", "/v1/customers/C1/non-deposit", {"on": "2026-02-01", "kind": "fee",
                                              "amount": "1.00"}, FEED),
    ("POST", "/v1/customers/C1/status", {"status": "dormant", "on": "2026-02-01"}, FEED),
    ("POST", "/v1/customers/C1/card-spending", {"month": "2026-02", "amount": "1.00"}, FEED),
    ("POST", "/v1/customers/C1/visits", {"staff_no": "M1", "on": "2026-10-01",
                                         "channel": "phone", "purpose": "routine"},
     {"admin", "manager"}),
    ("POST", "/v1/customers/C7/assignment", {"staff_no": "M1", "effective_on": "2026-02-01",
                                             "basis": "natural", "claim_ratio": "0.5"}, ADMINS),
    ("POST", "/v1/customers/C1/reassignment", {"to_staff_no": "M1",
                                               "effective_on": "2026-03-01", "mode": "full",
                                               "claim_ratio": "0.5"}, ADMINS),
    ("POST", "/v1/rulebooks", {"version": "x", "effective_from": "2026-01-01",
                               "document": {}}, {"admin"}),
    ("POST", "/v1/projections/rebuild", {"projection": "audit"}, {"admin"}),
    ("GET", "/v1/customers/C1", None, READERS),
    ("GET", "/v1/customers/C1/timeline", None, AUDIT),
    ("GET", "/v1/customers/C1/attribution?from=2026-01-01&to=2026-01-31", None, READERS),
    ("GET", "/v1/managers/M1", None, READERS),
    ("GET", "/v1/managers/M1/tier", None, READERS),
    ("GET", "/v1/managers/M1/book", None, READERS),
    ("GET", "/v1/managers/M1/attribution?from=2026-01-01&to=2026-01-31", None, READERS),
    ("GET", "/v1/managers/M1/timeline", None, AUDIT),
    ("GET", "/v1/tiers?branch=B1", None, READERS),
    ("GET", "/v1/visits/compliance?branch=B1&period=2026-Q1", None, READERS),
    ("GET", "/v1/branches/B1/targets?from=2026-01-01&to=2026-01-31", None, READERS),
    ("GET", "/v1/vip?branch=B1", None, READERS),
    ("GET", "/v1/scorecards/M1?period=2026-Q1", None, READERS),
    ("GET", "/v1/rulebooks", None, READERS),
    ("GET", "/v1/projections", None, AUDIT),
    ("GET", "/v1/projections/rebuilds/" + "0" * 32, None, AUDIT),
    ("GET", "/v1/audit/verify", None, AUDIT),
]


def call(api: Api, method: str, path: str, body: Any, role: str | None) -> Any:
    if path == "/v1/balances/import":
        return api.request(method, path, content="C1,2026-02-02,1.00\n", as_=role,
                           headers={"Content-Type": "text/csv"})
    return api.request(method, path, json=body, as_=role)


@pytest.mark.parametrize("role", ROLES)
def test_role_table_on_every_route(shared_api: Api, role: str) -> None:
    wrong = []
    for method, path, body, allowed in ENDPOINTS:
        response = call(shared_api, method, path, body, role)
        if role in allowed:
            if response.status_code in (401, 403) or response.status_code >= 500:
                wrong.append((method, path, response.status_code, response.text[:200]))
            written = method == "POST" and response.status_code in (200, 201)
            if written and "X-Event-Position" not in response.headers:
                wrong.append((method, path, "no X-Event-Position"))
        elif response.status_code != 403 or response.json()["code"] != "forbidden":
            wrong.append((method, path, response.status_code, response.text[:200]))
    assert not wrong, wrong


def test_no_or_unknown_token_is_401_everywhere(shared_api: Api) -> None:
    variants = ({}, {"Authorization": "Bearer not-a-token"},
                {"Authorization": f"Basic {TOKENS['admin']}"}, {"Authorization": "Bearer "})
    for i, (method, path, body, _allowed) in enumerate(ENDPOINTS):
        headers = variants[i % len(variants)]
        response = shared_api.request(method, path, json=body, as_=None, headers=headers)
        problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_probes_and_schema_need_no_token(shared_api: Api) -> None:
    for path in ("/v1/health", "/openapi.json", "/docs"):
        assert shared_api.get(path, as_=None).status_code == 200, path
    assert shared_api.get("/v1/ready", as_=None).status_code in (200, 503)  # never 401


def test_other_branches_do_not_exist_for_a_scoped_principal(shared_api: Api) -> None:
    for role, path in (("branch_admin", "/v1/customers/C9"), ("manager", "/v1/managers/M9"),
                       ("branch_admin", "/v1/managers/M9/tier"),
                       ("manager", "/v1/customers/C9/attribution?from=2026-01-01&to=2026-01-02"),
                       ("branch_admin", "/v1/tiers?branch=B2"),
                       ("manager", "/v1/branches/B2/targets?from=2026-01-01&to=2026-01-02"),
                       ("branch_admin", "/v1/vip?branch=B2"),
                       ("manager", "/v1/scorecards/M9?period=2026-Q1"),
                       ("branch_admin_b2", "/v1/customers/C1")):
        unknown = shared_api.get(path.replace("9", "8").replace("B2", "B8"), as_=role)
        hidden = shared_api.get(path, as_=role)
        problem(hidden, 404, "not_found")
        # Same answer as for something that does not exist at all.
        assert hidden.json()["detail"].replace("9", "8").replace("B2", "B8") == \
            unknown.json()["detail"], (hidden.text, unknown.text)
    for role, method, path, body in (
            ("branch_admin", "POST", "/v1/customers/C9/credit",
             {"limit": "1.00", "granted_on": "2026-02-01"}),
            ("branch_admin", "POST", "/v1/managers/M9/grade",
             {"grade": "senior", "band": 1, "effective_on": "2026-07-01"}),
            ("feed_b1", "POST", "/v1/customers/C9/balances", {"on": "2026-02-01",
                                                              "deposit": "1.00"}),
            ("branch_admin", "POST", "/v1/customers/C1/reassignment",
             {"to_staff_no": "M9", "effective_on": "2026-03-01", "mode": "full",
              "claim_ratio": "0.5"})):
        problem(shared_api.request(method, path, json=body, as_=role), 404, "not_found")


def test_creating_in_another_branch_is_forbidden(shared_api: Api) -> None:
    problem(shared_api.post("/v1/managers", {
        "staff_no": "M8", "name": "x", "branch": "B2", "role": "customer_manager",
        "grade": "manager", "band": 1, "hired_on": "2020-01-01"}, as_="branch_admin"),
        403, "forbidden", "branch")
    problem(shared_api.post("/v1/customers", {
        "customer_no": "C8", "name": "x", "segment": "corporate", "branch": "B2",
        "origin": "natural", "onboarded_on": "2026-01-01"}, as_="branch_admin"),
        403, "forbidden", "branch")


def test_a_scoped_principal_sees_its_branch_in_reports(shared_api: Api) -> None:
    tiers = shared_api.get("/v1/tiers", as_="branch_admin").json()
    assert tiers["branch"] == "B1"
    assert {m["staff_no"] for m in tiers["managers"]} <= {"M1", "M2", "M7"}


def test_time_travel_by_recorded_time_is_for_auditors(shared_api: Api) -> None:
    params = {"known_at": "2030-01-01T00:00:00Z"}
    problem(shared_api.get("/v1/customers/C1", params=params, as_="manager"), 403, "forbidden",
            "known_at")
    problem(shared_api.get("/v1/managers/M1/tier", params=params, as_="branch_admin"), 403,
            "forbidden", "known_at")
    assert shared_api.get("/v1/customers/C1", params=params, as_="auditor").status_code == 200
    assert shared_api.get("/v1/customers/C1", params={"as_of": "2026-06-30"},
                          as_="manager").status_code == 200


def test_auditor_changes_nothing(shared_api: Api) -> None:
    head = shared_api.get("/v1/projections", as_="auditor").json()["head"]
    for method, path, body, _allowed in ENDPOINTS:
        if method == "POST":
            problem(call(shared_api, method, path, body, "auditor"), 403, "forbidden")
    assert shared_api.get("/v1/projections", as_="auditor").json()["head"] == head
