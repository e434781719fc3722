"""Reads over HTTP: projections' reports, timelines, time travel, and read-your-writes."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.support import position, problem


def test_worked_example_of_domain_5_read_back_with_min_position(seeded: Api) -> None:
    seeded.ok("POST", "/v1/customers/C1/reassignment", {
        "to_staff_no": "M2", "effective_on": "2026-07-01", "mode": "handover",
        "deposit_ratio": "0.60", "non_deposit_ratio": "0.80"})
    wrote = seeded.ok("POST", "/v1/customers/C1/balances",
                      {"on": "2026-07-01", "deposit": "1500000.00"}, as_="feed")
    july = seeded.get("/v1/customers/C1/attribution", params={
        "from": "2026-07-01", "to": "2026-07-31", "min_position": position(wrote)})
    assert july.status_code == 200, july.text
    body = july.json()
    assert (body["days"], body["daily_average"]) == (31, "1500000.00")
    assert {p["party"]: p["daily_average"] for p in body["parties"]} == {
        "M1": "700000.00", "M2": "300000.00", "branch:B1": "500000.00"}
    mine = seeded.get("/v1/managers/M2/attribution",
                      params={"from": "2026-07-01", "to": "2026-07-31"}).json()
    assert mine["daily_average"] == "300000.00"
    assert mine["customers"] == [{"customer_no": "C1", "daily_average": "300000.00",
                                  "balance_days": "9300000.00"}]


def test_min_position_waits_then_answers_lagging(make_api: object) -> None:
    api = make_api(project_in_process=False, min_position_timeout=0.1)  # type: ignore[operator]
    wrote = api.ok("POST", "/v1/managers", {
        "staff_no": "M1", "name": "Staff M1", "branch": "B1", "role": "customer_manager",
        "grade": "manager", "band": 2, "hired_on": "2020-01-01"})
    tier = api.get("/v1/managers/M1/tier", params={"min_position": position(wrote)})
    assert tier.status_code == 200, tier.text
    assert tier.json()["tier"] == "E"
    lagging = api.get("/v1/managers/M1/tier", params={"min_position": position(wrote) + 1000})
    assert problem(lagging, 503, "projection_lagging", "min_position")
    assert lagging.headers["Retry-After"] == "1"
    problem(api.get("/v1/managers/M1", params={"min_position": position(wrote) + 1000}), 503,
            "projection_lagging")
    assert api.get("/v1/managers/M1", params={"min_position": position(wrote)}).status_code == 200
    problem(api.get("/v1/managers/M1/tier", params={"min_position": -1}), 422,
            "validation_error", "min_position")
    # Who may not read is told so at once, not after waiting for the position.
    problem(api.get("/v1/managers/M1/tier", params={"min_position": 10**9}, as_=None), 401,
            "unauthorized")
    problem(api.get("/v1/managers/M1/tier", params={"min_position": 10**9}, as_="feed"), 403,
            "forbidden")
    # ... and before its query is judged: 401, then the role's 403, then 422.
    problem(api.get("/v1/managers/M1/tier", params={"min_position": -1}, as_=None), 401,
            "unauthorized")
    problem(api.get("/v1/managers/M1/tier", params={"min_position": -1}, as_="feed"), 403,
            "forbidden")
    # Time travel is refused to a non-auditor before any wait: 403, not 503 after it.
    problem(api.get("/v1/managers/M1/tier", params={
        "min_position": 10**9, "known_at": "2030-01-01T00:00:00Z"}, as_="branch_admin"), 403,
        "forbidden", "known_at")


def test_manager_reports(shared_api: Api) -> None:
    tier = shared_api.get("/v1/managers/M1/tier", params={"as_of": "2026-06-30"}).json()
    assert tier["tier"] == "E" and tier["credit_customers"] == 0 and tier["focus"]
    book = shared_api.get("/v1/managers/M1/book").json()
    assert [(c["customer_no"], c["claim_ratio"], c["mode"]) for c in book["customers"]] == [
        ("C1", "0.50", "initial")]
    assert book["tier"]["staff_no"] == "M1"
    assert shared_api.get("/v1/managers/M1/book", params={"as_of": "2025-12-31"}).json()[
        "customers"] == []
    problem(shared_api.get("/v1/managers/M404/tier"), 404, "not_found")
    problem(shared_api.get("/v1/managers/M1/attribution", params={"from": "2026-02-01"}), 422,
            "validation_error", "to")
    problem(shared_api.get("/v1/managers/M1/attribution",
                           params={"from": "2026-02-01", "to": "2026-01-01"}),
            422, "validation_error", "to")
    problem(shared_api.get("/v1/managers/M1/attribution",
                           params={"from": "1990-01-01", "to": "2026-01-01"}),
            422, "validation_error", "to")


def test_branch_reports(shared_api: Api) -> None:
    tiers = shared_api.get("/v1/tiers", params={"branch": "B1"}).json()
    assert [m["staff_no"] for m in tiers["managers"]] == ["M1", "M2"]
    assert tiers["distribution"]["E"] == 2
    assert len(shared_api.get("/v1/tiers").json()["managers"]) == 3
    compliance = shared_api.get("/v1/visits/compliance",
                                params={"branch": "B1", "period": "2026-Q1"}).json()
    assert compliance["period"] == "2026-Q1" and {"due", "compliant", "rate"} <= set(compliance)
    targets = shared_api.get("/v1/branches/B1/targets",
                             params={"from": "2026-01-01", "to": "2026-01-31"}).json()
    assert targets["months"][0]["basic"]["count"] == 1
    assert targets["months"][0]["key"] == "2026-01"
    vip = shared_api.get("/v1/vip", params={"branch": "B1", "as_of": "2026-10-31"}).json()
    assert vip["customers"] == [] and set(vip["counts"]) == {"head_office", "branch"}
    card = shared_api.get("/v1/scorecards/M1", params={"period": "2026-Q1"}).json()
    assert card["business_expansion"]["new_basic_accounts"] == 1
    assert card["work_quality"]["visits_due"] >= 0
    problem(shared_api.get("/v1/visits/compliance", params={"period": "2026-Q5"}), 422,
            "validation_error", "period")
    problem(shared_api.get("/v1/visits/compliance", params={"period": "2027-Q1"}), 422,
            "date_out_of_range", "period")
    problem(shared_api.get("/v1/tiers", params={"branch": "B7"}), 404, "not_found")
    # before any of its managers was hired B1 lists none, and still exists
    early = shared_api.get("/v1/tiers", params={"branch": "B1", "as_of": "2019-12-31"})
    assert early.status_code == 200 and early.json()["managers"] == []
    problem(shared_api.get("/v1/branches/B7/targets",
                           params={"from": "2026-01-01", "to": "2026-01-31"}), 404, "not_found")
    problem(shared_api.get("/v1/scorecards/M404", params={"period": "2026-Q1"}), 404,
            "not_found")


def test_timelines_page_and_travel(shared_api: Api) -> None:
    page = shared_api.get("/v1/customers/C1/timeline", params={"limit": 2},
                          as_="auditor").json()
    assert [e["type"] for e in page["events"]] == ["Customer/Onboarded",
                                                   "Customer/AccountOpened"]
    assert page["next_after"] == page["events"][-1]["position"]
    first = page["events"][0]
    assert first["actor"] == "ops-admin" and first["effective_on"] == "2026-01-01"
    assert first["rulebook_version"] and first["summary"] and first["data"]["customer_no"] == "C1"
    rest = shared_api.get("/v1/customers/C1/timeline", params={"after": page["next_after"]},
                          as_="auditor").json()
    assert "Customer/BalanceRecorded" in [e["type"] for e in rest["events"]]
    assert rest["next_after"] is None
    before = shared_api.get("/v1/customers/C1/timeline",
                            params={"known_at": first["recorded_at"]}, as_="auditor").json()
    assert [e["position"] for e in before["events"]] == [first["position"]]
    manager = shared_api.get("/v1/managers/M1/timeline", as_="auditor").json()
    assert manager["events"][0]["type"] == "Manager/Registered"
    problem(shared_api.get("/v1/customers/C1/timeline", params={"limit": 0}, as_="auditor"),
            422, "validation_error", "limit")
    problem(shared_api.get("/v1/customers/C404/timeline", as_="auditor"), 404, "not_found")


def test_replay_of_a_report_as_known_then(shared_api: Api) -> None:
    registered = shared_api.get("/v1/managers/M1/timeline", as_="auditor").json()["events"][0]
    then = shared_api.get("/v1/managers/M1/book",
                          params={"known_at": registered["recorded_at"]}, as_="auditor")
    assert then.status_code == 200, then.text
    assert then.json()["customers"] == []
    assert shared_api.get("/v1/managers/M1/book", as_="auditor").json()["customers"]


def test_rulebooks_list_versions_with_authors(shared_api: Api) -> None:
    versions = shared_api.get("/v1/rulebooks", as_="manager").json()["versions"]
    assert versions[0]["builtin"] is True and versions[0]["author"] is None
    assert versions[0]["effective_from"] == "2024-01-01"
