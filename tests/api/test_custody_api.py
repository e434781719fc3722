"""Custody over HTTP: assignment, reassignment (handover, full) and visits, with refusals."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import HIRED, JAN1, Api
from tests.api.support import position, problem
from tests.support import default_document


def onboard(api: Api, no: str) -> None:
    api.ok("POST", "/v1/customers", {"customer_no": no, "name": f"{no} Co",
                                     "segment": "corporate", "branch": "B1",
                                     "origin": "natural", "onboarded_on": JAN1})


def register(api: Api, staff_no: str, role: str = "customer_manager") -> None:
    api.ok("POST", "/v1/managers", {"staff_no": staff_no, "name": f"Staff {staff_no}",
                                    "branch": "B1", "role": role, "grade": "manager",
                                    "band": 1, "hired_on": HIRED})


def assignment(staff_no: str = "M2", ratio: str = "0.60", **changes: Any) -> dict[str, Any]:
    body = {"staff_no": staff_no, "effective_on": "2026-02-01", "basis": "natural",
            "claim_ratio": ratio}
    body.update(changes)
    return body


def test_assign_answers_the_custody(seeded: Api) -> None:
    onboard(seeded, "C5")
    response = seeded.post("/v1/customers/C5/assignment", assignment())
    assert response.status_code == 201, response.text
    position(response)
    body = response.json()
    assert body["custodian"] == "M2" and body["mode"] == "initial"
    assert body["chain"] == [{"effective_on": "2026-02-01", "mode": "initial", "custodian": "M2",
                              "claim_ratio": "0.60", "outgoing": None, "deposit_ratio": None,
                              "non_deposit_ratio": None, "base_daily_average": None}]


def test_assign_refusals(seeded: Api) -> None:
    onboard(seeded, "C5")
    register(seeded, "R1", role="retail_manager")
    problem(seeded.post("/v1/customers/C1/assignment", assignment()), 409, "already_assigned")
    problem(seeded.post("/v1/customers/C5/assignment", assignment(ratio="0.40")), 422,
            "ratio_below_floor", "claim_ratio")
    problem(seeded.post("/v1/customers/C5/assignment", assignment(ratio="1.5")), 422,
            "validation_error", "claim_ratio")
    problem(seeded.post("/v1/customers/C5/assignment", assignment("R1")), 409,
            "ineligible_custodian")
    problem(seeded.post("/v1/customers/C5/assignment", assignment("M404")), 404, "not_found")
    problem(seeded.post("/v1/customers/C5/assignment", assignment(effective_on="2026-12-01")),
            422, "date_out_of_range", "effective_on")
    problem(seeded.post("/v1/customers/C5/assignment", assignment(basis="friendly")), 422,
            "validation_error", "basis")
    seeded.ok("POST", "/v1/managers/M2/departure", {"on": "2026-01-15"})
    problem(seeded.post("/v1/customers/C5/assignment", assignment()), 409, "custodian_departed")


def test_capacity_cap_of_the_rulebook(seeded: Api) -> None:
    document = default_document()
    document.update(version="2025.9", effective_from="2025-06-01")
    document["caps"]["customer_manager"]["max"] = 1
    seeded.ok("POST", "/v1/rulebooks", {"version": "2025.9", "effective_from": "2025-06-01",
                                        "document": document})
    seeded.ok("POST", "/v1/customers/C1/credit", {"limit": "100.00", "granted_on": JAN1})
    onboard(seeded, "C6")
    seeded.ok("POST", "/v1/customers/C6/credit", {"limit": "100.00", "granted_on": JAN1})
    problem(seeded.post("/v1/customers/C6/assignment", assignment("M1")), 409,
            "capacity_exceeded")


def test_handover_keeps_the_stock_and_full_transfer_moves_all(seeded: Api) -> None:
    handover = seeded.post("/v1/customers/C1/reassignment", {
        "to_staff_no": "M2", "effective_on": "2026-07-01", "mode": "handover",
        "deposit_ratio": "0.60", "non_deposit_ratio": "0.80", "reason": "rebalancing"})
    assert handover.status_code == 200, handover.text
    body = handover.json()
    assert body["custodian"] == "M2" and body["mode"] == "handover"
    assert body["base_daily_average"] == "1000000.00"
    assert body["chain"][-1]["outgoing"] == "M1"
    full = seeded.post("/v1/customers/C1/reassignment", {
        "to_staff_no": "M1", "effective_on": "2026-08-01", "mode": "full", "claim_ratio": "0.50"})
    assert full.status_code == 200, full.text
    assert full.json()["base_daily_average"] is None and full.json()["custodian"] == "M1"


def test_reassign_refusals(seeded: Api) -> None:
    def reassign(no: str = "C1", **body: Any) -> Any:
        sent = {"to_staff_no": "M2", "effective_on": "2026-07-01", "mode": "handover",
                "deposit_ratio": "0.60", "non_deposit_ratio": "0.80"}
        sent.update(body)
        return seeded.post(f"/v1/customers/{no}/reassignment",
                           {k: v for k, v in sent.items() if v is not None})

    problem(reassign(to_staff_no="M1"), 409, "same_custodian")
    problem(reassign(deposit_ratio="0.50"), 422, "ratio_below_floor", "deposit_ratio")
    problem(reassign(non_deposit_ratio=None), 422, "validation_error", "non_deposit_ratio")
    problem(reassign(mode="full"), 422, "validation_error")
    problem(reassign(mode="sideways"), 422, "validation_error", "mode")
    problem(reassign(effective_on="2025-12-01"), 422, "date_out_of_range", "effective_on")
    problem(reassign(to_staff_no="M404"), 404, "not_found", "to_staff_no")
    onboard(seeded, "C5")
    problem(reassign("C5"), 409, "not_assigned")
    seeded.ok("POST", "/v1/managers/M1/departure", {"on": "2026-06-01"})
    problem(reassign(), 409, "custodian_departed")


def test_visits_by_admin_and_by_the_custodian(seeded: Api) -> None:
    visit = {"staff_no": "M1", "on": "2026-10-20", "channel": "on_site", "purpose": "business",
             "notes": "credit line"}
    logged = seeded.post("/v1/customers/C1/visits", visit)
    assert logged.status_code == 201, logged.text
    assert logged.json() == {"customer_no": "C1", **visit}
    own = seeded.post("/v1/customers/C1/visits", {**visit, "on": "2026-10-21"}, as_="manager")
    assert own.status_code == 201, own.text
    events = seeded.get("/v1/customers/C1/timeline", as_="auditor").json()["events"]
    assert events[-1]["actor"] == "M1"  # a manager acts under its staff_no
    problem(seeded.post("/v1/customers/C1/visits", visit, as_="manager_m2"), 403, "forbidden")
    problem(seeded.post("/v1/customers/C1/visits", {**visit, "staff_no": "M2"}, as_="manager"),
            403, "forbidden", "staff_no")
    problem(seeded.post("/v1/customers/C9/visits", visit, as_="manager"), 404, "not_found")
    problem(seeded.post("/v1/customers/C1/visits", {**visit, "on": "2026-11-02"}), 422,
            "date_out_of_range", "on")
    problem(seeded.post("/v1/customers/C1/visits", {**visit, "staff_no": "M404"}), 404,
            "not_found", "staff_no")
    problem(seeded.post("/v1/customers/C1/visits", {**visit, "channel": "pigeon"}), 422,
            "validation_error", "channel")
    problem(seeded.post("/v1/customers/C1/visits", {**visit, "notes": "x" * 2001}), 422,
            "validation_error", "notes")
