"""The feed over HTTP: balances (one, or a CSV / JSON-lines file), non-deposit, status, cards."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.support import position, problem


def test_balance_recorded_unchanged_corrected(seeded: Api) -> None:
    first = seeded.post("/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": "1200000"},
                        as_="feed")
    assert first.status_code == 200, first.text
    assert first.json() == {"recorded": True, "correction": False}
    at = position(first)
    same = seeded.post("/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": "1200000.00"},
                       as_="feed")
    assert same.json() == {"recorded": False, "correction": False}
    assert position(same) == at
    fixed = seeded.post("/v1/customers/C1/balances",
                        {"on": "2026-02-01", "deposit": "1300000.00", "reason": "core fix"},
                        as_="feed")
    assert fixed.json() == {"recorded": True, "correction": True}
    assert position(fixed) > at


def test_balance_refusals(shared_api: Api) -> None:
    seeded = shared_api
    def post(body: dict[str, str]) -> object:
        return seeded.post("/v1/customers/C1/balances", body, as_="feed")

    problem(post({"on": "2026-11-02", "deposit": "1.00"}), 422, "date_out_of_range", "on")
    problem(post({"on": "2025-12-31", "deposit": "1.00"}), 422, "date_out_of_range", "on")
    problem(post({"on": "2026-02-01", "deposit": "-1.00"}), 422, "validation_error", "deposit")
    problem(post({"on": "2026-02-01", "deposit": "1.001"}), 422, "validation_error", "deposit")
    problem(post({"on": "2026-02-01"}), 422, "validation_error", "deposit")
    problem(seeded.post("/v1/customers/C404/balances", {"on": "2026-02-01", "deposit": "1"},
                        as_="feed"), 404, "not_found")


def test_import_csv_and_json_lines(seeded: Api) -> None:
    csv = "customer_no,on,deposit,loan\nC1,2026-03-01,10.00,0\nC9,2026-03-01,20.00,1.00\n"
    response = seeded.request("POST", "/v1/balances/import", content=csv, as_="feed",
                              headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["recorded"], report["invalid"]) == (2, 2, [])
    assert position(response) == report["position"]
    lines = '{"customer_no": "C1", "on": "2026-03-01", "deposit": "10.00"}\n' \
            '{"customer_no": "C1", "on": "2026-03-02", "deposit": "11.00"}\n'
    again = seeded.request("POST", "/v1/balances/import", content=lines, as_="feed",
                           headers={"Content-Type": "application/x-ndjson"})
    assert again.status_code == 200, again.text
    assert (again.json()["unchanged"], again.json()["recorded"]) == (1, 1)


def test_import_invalid_file_writes_nothing_unless_skipping(seeded: Api) -> None:
    csv = "C1,2026-04-01,10.00\nC404,2026-04-01,1.00\nC1,2026-13-01,1\n"
    head = seeded.get("/v1/projections", as_="auditor").json()["head"]
    refused = seeded.request("POST", "/v1/balances/import", content=csv, as_="feed",
                             headers={"Content-Type": "text/csv"})
    body = problem(refused, 422, "validation_error", "row 2")
    assert body["rows"] == 3 and body["written"] is False
    assert [(i["row"], i["code"]) for i in body["invalid"]] == [(2, "not_found"),
                                                               (3, "validation_error")]
    assert seeded.get("/v1/projections", as_="auditor").json()["head"] == head
    skipped = seeded.request("POST", "/v1/balances/import", content=csv, as_="feed",
                             params={"skip_invalid": "true"},
                             headers={"Content-Type": "text/csv"})
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["recorded"] == 1 and len(skipped.json()["invalid"]) == 2


def test_import_refuses_other_media_and_out_of_scope_rows(shared_api: Api) -> None:
    seeded = shared_api
    problem(seeded.request("POST", "/v1/balances/import", content="<xml/>", as_="feed",
                           headers={"Content-Type": "application/xml"}), 415,
            "unsupported_media_type")
    problem(seeded.request("POST", "/v1/balances/import", content=b"\xff\xfe\x00",
                           as_="feed", headers={"Content-Type": "text/csv"}),
            422, "validation_error")
    # A feed of branch B1 sees C9 (branch B2) as unknown.
    csv = "C1,2026-05-01,1.00\nC9,2026-05-01,1.00\n"
    scoped = seeded.request("POST", "/v1/balances/import", content=csv, as_="feed_b1",
                            headers={"Content-Type": "text/csv"})
    body = problem(scoped, 422, "validation_error")
    assert [(i["row"], i["code"]) for i in body["invalid"]] == [(2, "not_found")]


def test_non_deposit_status_and_card_spending(seeded: Api) -> None:
    fee = seeded.post("/v1/customers/C1/non-deposit",
                      {"on": "2026-03-15", "kind": "fee", "amount": "1200.50"}, as_="feed")
    assert fee.status_code == 200, fee.text
    assert fee.json() == {"customer_no": "C1", "on": "2026-03-15", "kind": "fee",
                          "amount": "1200.50"}
    problem(seeded.post("/v1/customers/C1/non-deposit",
                        {"on": "2026-03-15", "kind": "", "amount": "1"}, as_="feed"),
            422, "validation_error", "kind")
    dormant = seeded.post("/v1/customers/C1/status", {"status": "dormant", "on": "2026-04-01"},
                          as_="feed")
    assert dormant.json()["changed"] is True
    again = seeded.post("/v1/customers/C1/status", {"status": "dormant", "on": "2026-04-02"},
                        as_="feed")
    assert again.status_code == 200 and again.json()["changed"] is False
    problem(seeded.post("/v1/customers/C1/status", {"status": "asleep", "on": "2026-04-01"},
                        as_="feed"), 422, "validation_error", "status")
    assert seeded.get("/v1/customers/C1").json()["status"] == "dormant"
    # Card spending is for individuals.
    seeded.ok("POST", "/v1/customers", {"customer_no": "P1", "name": "张三",
                                        "segment": "individual", "branch": "B1",
                                        "origin": "natural", "onboarded_on": "2026-01-01"})
    card = seeded.post("/v1/customers/P1/card-spending", {"month": "2026-09", "amount": "8200"},
                       as_="feed")
    assert card.status_code == 200 and card.json()["recorded"] is True
    problem(seeded.post("/v1/customers/C1/card-spending", {"month": "2026-09", "amount": "1"},
                        as_="feed"), 422, "validation_error")
    problem(seeded.post("/v1/customers/P1/card-spending", {"month": "2026-13", "amount": "1"},
                        as_="feed"), 422, "validation_error", "month")
    problem(seeded.post("/v1/customers/P1/card-spending", {"month": "2026-12", "amount": "1"},
                        as_="feed"), 422, "date_out_of_range", "month")
