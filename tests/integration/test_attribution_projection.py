"""Attribution through the real application and the book projection [DOMAIN §4.2, §5].

The figures are the ones a user sees (`customer_attribution`, `manager_attribution`),
computed from the serving book generation after projecting the events the
application stored — on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from application.service import BookOfBusiness
from domain import identity
from projections.book import BookProjection
from projections.reader import BookReader
from projections.rebuild import build_fresh, rebuild
from projections.replay import book_reader
from projections.reports.attribution import customer_attribution, manager_attribution
from projections.runner import Projector
from tests.projection_support import (
    YUAN,
    active,
    assign,
    balance,
    dump,
    handover,
    onboard,
    open_account,
    projector,
    register,
)

pytestmark = pytest.mark.integration

JAN1 = date(2026, 1, 1)
JUL1 = date(2026, 7, 1)
JUL31 = date(2026, 7, 31)
AUG1 = date(2026, 8, 1)
AUG31 = date(2026, 8, 31)


def parties(report: dict[str, Any] | None) -> dict[str, str]:
    assert report is not None
    return {p["party"]: p["daily_average"] for p in report["parties"]}


def attribution(read_side: Projector, no: str, start: date, end: date) -> dict[str, Any]:
    with book_reader(read_side) as reader:
        found = customer_attribution(reader, no, start, end)
    assert found is not None
    return found


def worked_example(app: BookOfBusiness) -> None:
    """DOMAIN §5: X natural, M1 at 0.50 from 2026-01-01, 1,000,000.00 from 2026-01-01,
    handover to M2 on 2026-07-01 at 0.60, 1,500,000.00 from 2026-07-01."""
    register(app, "M1")
    register(app, "M2")
    onboard(app, "X")
    open_account(app, "X", "A1")
    assign(app, "X", "M1", on=JAN1, ratio="0.50")
    balance(app, "X", JAN1, "1000000.00")
    receipt = handover(app, "X", "M2", JUL1, deposit="0.60", non_deposit="0.80")
    assert receipt.result["base_daily_average"] == 1_000_000 * YUAN
    balance(app, "X", JUL1, "1500000.00")


def reassigned_event(app: BookOfBusiness, no: str, index: int = 0) -> Any:
    """The stored Reassigned event (as the write side recorded it), the index-th one."""
    found = [e for e in app.events.get(identity.assignment_id(no))
             if type(e).__name__ == "Reassigned"]
    return found[index]


# ---- the worked example of DOMAIN §5 ----------------------------------------------------------


def test_domain_worked_example_through_the_projection(app: BookOfBusiness) -> None:
    worked_example(app)
    with projector(app) as read_side:
        july = attribution(read_side, "X", JUL1, JUL31)
        assert july["days"] == 31
        assert july["daily_average"] == "1500000.00"
        assert parties(july) == {"M2": "300000.00", "M1": "700000.00",
                                 "branch:B1": "500000.00"}
        # balance-days (积数) over July: daily average × 31
        assert {p["party"]: p["balance_days"] for p in july["parties"]} == {
            "M2": "9300000.00", "M1": "21700000.00", "branch:B1": "15500000.00"}
        assert july["balance_days"] == "46500000.00"
        assert july["rulebook_version"] == "2024.1"

        # Before the handover M1 holds the whole customer at 0.50.
        june = attribution(read_side, "X", date(2026, 6, 1), date(2026, 6, 30))
        assert parties(june) == {"M1": "500000.00", "branch:B1": "500000.00"}

        with book_reader(read_side) as reader:
            m1 = manager_attribution(reader, "M1", JUL1, JUL31)
            m2 = manager_attribution(reader, "M2", JUL1, JUL31)
        assert m1 is not None
        assert m2 is not None
        assert m1["daily_average"] == "700000.00"
        assert m2["daily_average"] == "300000.00"
        assert [r["customer_no"] for r in m2["customers"]] == ["X"]


# ---- a three-handover chain ---------------------------------------------------------------------


def test_three_handover_chain_worked_by_hand(app: BookOfBusiness) -> None:
    """Customer Y (natural), branch B1, base window previous half-year (default rulebook).

    Custody chain
      2025-01-01  assigned to M1, claim ratio c = 0.65
      2025-07-01  handover M1 → M2, deposit ratio r1 = 0.60
      2026-01-01  handover M2 → M3, deposit ratio r2 = 0.75
      2026-07-01  handover M3 → M4, deposit ratio r3 = 0.80

    Deposit balances recorded (carried forward between records)
      2025-01-01  1,000,000.00
      2025-07-01  1,800,000.00
      2025-10-01  2,200,000.00
      2026-01-01  3,000,000.00
      2026-07-01  4,000,000.00
      2026-08-01  2,500,000.00

    Bases (daily average over [effective_on − 6 months, effective_on − 1 day])
      B1: 2025-01-01 … 2025-06-30 (181 days) all at 1,000,000   → B1 = 1,000,000
      B2: 2025-07-01 … 2025-12-31 (184 days) = 92 days at 1,800,000 (Jul–Sep)
          + 92 days at 2,200,000 (Oct–Dec)
          = (165,600,000 + 202,400,000) / 184 = 368,000,000 / 184 → B2 = 2,000,000
      B3: 2026-01-01 … 2026-06-30 (181 days) all at 3,000,000   → B3 = 3,000,000

    Split functions (DOMAIN §5.2)
      S0(b) = {M1: 0.65·b, branch: 0.35·b}
      S1(b) = S0(min(b, B1)) + {M2: 0.60·(b−B1)⁺, M1: 0.40·(b−B1)⁺}
      S2(b) = S1(min(b, B2)) + {M3: 0.75·(b−B2)⁺, M2: 0.25·(b−B2)⁺}
      S3(b) = S2(min(b, B3)) + {M4: 0.80·(b−B3)⁺, M3: 0.20·(b−B3)⁺}

    July 2026 (31 days, b = 4,000,000, under S3)
      S0(1,000,000) = M1 650,000           branch 350,000
      + H1 slice 1,000,000: M2 600,000     M1 400,000
      + H2 slice 1,000,000: M3 750,000     M2 250,000
      + H3 slice 1,000,000: M4 800,000     M3 200,000
      → M1 1,050,000 · M2 850,000 · M3 950,000 · M4 800,000 · branch 350,000
        (sum 4,000,000 = b)

    August 2026 (31 days, b = 2,500,000, under S3; b < B3 so M4 gets nothing)
      S0(1,000,000) = M1 650,000, branch 350,000
      + H1 slice 1,000,000: M2 600,000, M1 400,000
      + H2 slice   500,000: M3 375,000, M2 125,000
      → M1 1,050,000 · M2 725,000 · M3 375,000 · branch 350,000 (sum 2,500,000)

    July + August (62 days) = the mean of the two months
      → M1 1,050,000 · M2 787,500 · M3 662,500 · M4 400,000 · branch 350,000
        (sum 3,250,000)

    Q3 2025 (2025-07-01 … 2025-09-30, 92 days, b = 1,800,000, under S1)
      S0(1,000,000) + H1 slice 800,000: M2 480,000, M1 320,000
      → M1 970,000 · M2 480,000 · branch 350,000 (sum 1,800,000)
    """
    start = date(2025, 1, 1)
    for staff_no in ("M1", "M2", "M3", "M4"):
        register(app, staff_no)
    onboard(app, "Y", on=start)
    open_account(app, "Y", "AY", on=start)
    assign(app, "Y", "M1", on=start, ratio="0.65")
    balance(app, "Y", start, "1000000.00")
    b1 = handover(app, "Y", "M2", date(2025, 7, 1), deposit="0.60")
    balance(app, "Y", date(2025, 7, 1), "1800000.00")
    balance(app, "Y", date(2025, 10, 1), "2200000.00")
    b2 = handover(app, "Y", "M3", JAN1, deposit="0.75")
    balance(app, "Y", JAN1, "3000000.00")
    b3 = handover(app, "Y", "M4", JUL1, deposit="0.80")
    balance(app, "Y", JUL1, "4000000.00")
    balance(app, "Y", AUG1, "2500000.00")
    assert [r.result["base_daily_average"] for r in (b1, b2, b3)] == [
        1_000_000 * YUAN, 2_000_000 * YUAN, 3_000_000 * YUAN]

    with projector(app) as read_side:
        assert parties(attribution(read_side, "Y", JUL1, JUL31)) == {
            "M1": "1050000.00", "M2": "850000.00", "M3": "950000.00", "M4": "800000.00",
            "branch:B1": "350000.00"}
        assert parties(attribution(read_side, "Y", AUG1, AUG31)) == {
            "M1": "1050000.00", "M2": "725000.00", "M3": "375000.00", "branch:B1": "350000.00"}
        both = attribution(read_side, "Y", JUL1, AUG31)
        assert both["days"] == 62
        assert both["daily_average"] == "3250000.00"
        assert parties(both) == {
            "M1": "1050000.00", "M2": "787500.00", "M3": "662500.00", "M4": "400000.00",
            "branch:B1": "350000.00"}
        q3 = attribution(read_side, "Y", date(2025, 7, 1), date(2025, 9, 30))
        assert parties(q3) == {"M1": "970000.00", "M2": "480000.00", "branch:B1": "350000.00"}

        # The projection keeps every base as the write side computed it (nothing corrected).
        with book_reader(read_side) as reader:
            doc = reader.customers(["Y"])["Y"]
            m3 = manager_attribution(reader, "M3", JUL1, JUL31)
        assert doc is not None
        bases = [(t["base_start"], t["base_end"], t["base_balance_days"] // t["base_days"])
                 for t in doc["chain"] if t["mode"] == "handover"]
        assert bases == [("2025-01-01", "2025-06-30", 1_000_000 * YUAN),
                         ("2025-07-01", "2025-12-31", 2_000_000 * YUAN),
                         ("2026-01-01", "2026-06-30", 3_000_000 * YUAN)]
        assert m3 is not None
        assert m3["daily_average"] == "950000.00"


# ---- a later balance correction moves the base (DOMAIN §4.2) -----------------------------------


def test_correction_inside_the_base_window_moves_base_and_attribution(
        app: BookOfBusiness) -> None:
    """Worked example, then the 2026-01-01 balance is corrected to 800,000.00.

    Base window 2026-01-01 … 2026-06-30, all at 800,000 now → base 800,000.
    July (b = 1,500,000): increment 700,000 → M2 0.60·700,000 = 420,000;
    M1 0.50·800,000 + 0.40·700,000 = 400,000 + 280,000 = 680,000; branch 400,000.
    The Reassigned event keeps the base computed when it was recorded (1,000,000).
    """
    worked_example(app)
    with projector(app) as read_side:
        assert parties(attribution(read_side, "X", JUL1, JUL31))["M2"] == "300000.00"

        corrected = balance(app, "X", JAN1, "800000.00", reason="core banking re-sent 01-01")
        assert corrected.result == {"recorded": True, "correction": True}

        july = attribution(read_side, "X", JUL1, JUL31)
        assert july["daily_average"] == "1500000.00"
        assert parties(july) == {"M2": "420000.00", "M1": "680000.00", "branch:B1": "400000.00"}

        with book_reader(read_side) as reader:
            doc = reader.customers(["X"])["X"]
        assert doc is not None
        term = doc["chain"][-1]
        assert term["mode"] == "handover"
        assert (term["base_balance_days"], term["base_days"]) == (181 * 800_000 * YUAN, 181)
        assert term["recorded_base_balance_days"] == 181 * 1_000_000 * YUAN

    # The stored event itself is untouched: the value computed at the time, for the record.
    event = reassigned_event(app, "X")
    assert (event.base_balance_days, event.base_days) == (181 * 1_000_000 * YUAN, 181)


def test_correction_outside_the_base_window_leaves_the_base(app: BookOfBusiness) -> None:
    """Correcting the 2026-07-01 balance (after the window) changes July's total and the
    increment, never the base: 1,200,000 → M2 0.60·200,000 = 120,000, M1 500,000 + 80,000."""
    worked_example(app)
    with projector(app) as read_side:
        attribution(read_side, "X", JUL1, JUL31)
        balance(app, "X", JUL1, "1200000.00", reason="re-sent")
        july = attribution(read_side, "X", JUL1, JUL31)
        assert parties(july) == {"M2": "120000.00", "M1": "580000.00", "branch:B1": "500000.00"}


def test_correction_before_the_window_carried_into_it_moves_the_base(
        app: BookOfBusiness) -> None:
    """The balance recorded on 2026-01-01 is the balance of every day of the window
    2026-02-01 … 2026-07-31 of a handover on 2026-08-01 (carried forward, DOMAIN §5.1).

    Correcting it to 800,000.00 after the handover was projected must move the base to
    800,000, exactly as a rebuild computes it. August (b = 1,500,000): increment 700,000
    → M2 420,000; M1 400,000 + 280,000 = 680,000; branch 400,000.
    """
    register(app, "M1")
    register(app, "M2")
    onboard(app, "X")
    assign(app, "X", "M1", on=JAN1, ratio="0.50")
    balance(app, "X", JAN1, "1000000.00")
    receipt = handover(app, "X", "M2", AUG1)
    assert receipt.result["base_daily_average"] == 1_000_000 * YUAN
    balance(app, "X", AUG1, "1500000.00")
    with projector(app) as read_side:
        read_side.catch_up_all()  # the live view has seen the handover
        balance(app, "X", JAN1, "800000.00", reason="core banking re-sent 01-01")

        live = attribution(read_side, "X", AUG1, AUG31)
        fresh = build_fresh(read_side, "book", status="fresh")
        projection = read_side.instance(fresh)
        assert isinstance(projection, BookProjection)
        rebuilt = customer_attribution(BookReader(read_side.db, projection), "X", AUG1, AUG31)
        live_customers = dump(read_side, active(read_side))["customers"]
        fresh_customers = dump(read_side, fresh)["customers"]

    expected = {"M2": "420000.00", "M1": "680000.00", "branch:B1": "400000.00"}
    assert parties(rebuilt) == expected  # a build from scratch gets it right …
    assert parties(live) == expected  # … the live view must too
    assert live_customers == fresh_customers


def test_rebuild_keeps_the_corrected_base(app: BookOfBusiness) -> None:
    """A rebuild from position zero reaches the same corrected figures as the live view."""
    worked_example(app)
    balance(app, "X", JAN1, "800000.00", reason="re-sent")
    with projector(app) as read_side:
        before = attribution(read_side, "X", JUL1, JUL31)
        report = rebuild(read_side)
        assert report.status == "finished"
        assert report.diff == {"tiers": [], "attribution": []}
        assert attribution(read_side, "X", JUL1, JUL31) == before
        assert parties(before) == {"M2": "420000.00", "M1": "680000.00", "branch:B1": "400000.00"}
