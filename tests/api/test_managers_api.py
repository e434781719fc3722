"""Managers over HTTP: register, grade, departure and their refusals; state and time travel."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import HIRED, Api
from tests.api.support import position, problem


def manager(staff_no: str = "M5", **changes: Any) -> dict[str, Any]:
    body = {"staff_no": staff_no, "name": f"Staff {staff_no}", "branch": "B1",
            "role": "customer_manager", "grade": "manager", "band": 2, "hired_on": HIRED}
    body.update(changes)
    return body


def test_register_answers_the_manager_with_position_and_location(api: Api) -> None:
    response = api.post("/v1/managers", manager())
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/v1/managers/M5"
    at = position(response)
    body = response.json()
    assert body["staff_no"] == "M5" and body["grade"] == "manager" and body["band"] == 2
    assert body["customers"] == [] and body["departed_on"] is None
    assert body["as_of"] == "2026-11-01"
    timeline = api.get("/v1/managers/M5/timeline", as_="auditor").json()
    assert timeline["events"][0]["position"] == at
    assert timeline["events"][0]["actor"] == "ops-admin"


def test_register_refusals(shared_api: Api) -> None:
    api = shared_api
    problem(api.post("/v1/managers", manager("M1")), 409, "already_exists")
    problem(api.post("/v1/managers", manager("M6", role="chef")), 422, "validation_error", "role")
    problem(api.post("/v1/managers", manager("M6", hired_on="2026-12-01")), 422,
            "date_out_of_range", "hired_on")
    problem(api.post("/v1/managers", manager("M6", grade="trainee", band=2)), 422,
            "validation_error", "band")
    problem(api.post("/v1/managers", manager("M 6")), 422, "validation_error", "staff_no")


def test_grade_change_and_refusals(api: Api) -> None:
    api.ok("POST", "/v1/managers", manager())
    response = api.post("/v1/managers/M5/grade",
                        {"grade": "senior", "band": 1, "effective_on": "2026-07-01",
                         "reason": "promotion"})
    assert response.status_code == 200, response.text
    position(response)
    assert response.json()["grade"] == "senior"
    before = api.get("/v1/managers/M5", params={"as_of": "2026-06-30"}).json()
    assert (before["grade"], before["band"]) == ("manager", 2)
    problem(api.post("/v1/managers/M404/grade", {"grade": "senior", "band": 1,
                                                  "effective_on": "2026-07-01"}),
            404, "not_found")
    problem(api.post("/v1/managers/M5/grade", {"grade": "senior", "band": 1,
                                               "effective_on": "2019-01-01"}),
            422, "date_out_of_range", "effective_on")


def test_departure_lists_customers_to_reassign_and_blocks_later_changes(seeded: Api) -> None:
    response = seeded.post("/v1/managers/M1/departure", {"on": "2026-10-01", "reason": "left"})
    assert response.status_code == 200, response.text
    assert response.json()["needs_reassignment"] == ["C1"]
    assert response.json()["departed_on"] == "2026-10-01"
    problem(seeded.post("/v1/managers/M1/grade", {"grade": "senior", "band": 1,
                                                  "effective_on": "2026-10-15"}),
            409, "manager_departed")
    problem(seeded.post("/v1/managers/M2/departure", {"on": "2026-12-01"}), 422,
            "date_out_of_range", "on")
    problem(seeded.post("/v1/managers/M404/departure", {"on": "2026-10-01"}), 404, "not_found")


def test_manager_state_time_travel(shared_api: Api) -> None:
    seeded = shared_api
    state = seeded.get("/v1/managers/M1").json()
    assert state["customers"] == ["C1"]
    assert seeded.get("/v1/managers/M1", params={"as_of": "2025-12-31"}).json()[
        "customers"] == []
    problem(seeded.get("/v1/managers/M1", params={"as_of": "2019-01-01"}), 404, "not_found")
    known = seeded.get("/v1/managers/M1", params={"known_at": "2000-01-01T00:00:00Z"},
                       as_="auditor")
    problem(known, 404, "not_found")
    problem(seeded.get("/v1/managers/M404"), 404, "not_found")
