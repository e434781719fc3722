"""Branch shares (DOMAIN §5): a branch's book split between its retained share and managers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from application.service import BookOfBusiness
from projections.replay import book_reader
from projections.reports.attribution import branch_attribution, customer_attribution
from tests.projection_support import (
    JAN1,
    assign,
    balance,
    handover,
    onboard,
    open_account,
    projector,
    register,
)

pytestmark = pytest.mark.integration
JUL1, JUL31 = date(2026, 7, 1), date(2026, 7, 31)


def test_branch_shares_are_the_sum_of_its_customers_and_add_up(app: BookOfBusiness) -> None:
    for staff_no in ("M1", "M2"):
        register(app, staff_no)
    for no, deposit, ratio in (("X", "1000000.00", "0.50"), ("Y", "333333.33", "0.80")):
        onboard(app, no, origin="natural" if ratio == "0.50" else "public")
        open_account(app, no, f"A{no}")
        assign(app, no, "M1", ratio=ratio, basis="natural" if ratio == "0.50" else "public")
        balance(app, no, JAN1, deposit)
    handover(app, "X", "M2", JUL1)
    balance(app, "X", JUL1, "1500000.00")
    with projector(app) as read_side, book_reader(read_side) as reader:
        branch = branch_attribution(reader, "B1", JUL1, JUL31)
        customers = [customer_attribution(reader, no, JUL1, JUL31) for no in ("X", "Y")]
        assert branch_attribution(reader, "NOPE", JUL1, JUL31) is None
    assert branch is not None
    shares = {p["party"]: Decimal(p["balance_days"]) for p in branch["parties"]}
    assert sum(shares.values()) == Decimal(branch["balance_days"])
    averages = {p["party"]: Decimal(p["daily_average"]) for p in branch["parties"]}
    assert sum(averages.values()) == Decimal(branch["daily_average"])
    # every party's branch-wide share is the sum of its per-customer shares (to the fen)
    for party, amount in shares.items():
        per_customer = sum(Decimal(p["balance_days"]) for c in customers if c
                           for p in c["parties"] if p["party"] == party)
        assert abs(per_customer - amount) <= Decimal("0.02"), party
    # X in July: M1 700,000, M2 300,000, branch 500,000; Y: M1 266,666.664, branch 66,666.666
    assert averages == {"branch:B1": Decimal("566666.67"), "M1": Decimal("966666.66"),
                        "M2": Decimal("300000.00")}
    assert branch["parties"][0]["party"] == "branch:B1"


def test_reports_over_many_customers_read_their_balances_in_chunks_to_the_same_figures(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    # Balances are read for LEDGER_CHUNK customers at a time; chunks of one, of two (one
    # left over) and of all give the figures each customer's own report gives.
    from projections.reports import attribution

    register(app, "M1")
    numbers = ["C1", "C2", "C3", "C4", "C5"]
    for i, no in enumerate(numbers):
        onboard(app, no)
        open_account(app, no, f"A{no}")
        assign(app, no, "M1", ratio="0.50")
        balance(app, no, JAN1, f"{(i + 1) * 100000}.00")
        balance(app, no, JUL1, f"{(i + 1) * 150000}.00")
    with projector(app) as read_side, book_reader(read_side) as reader:
        customers = [customer_attribution(reader, no, JUL1, JUL31) for no in numbers]
        seen = []
        for chunk in (1, 2, 200):
            monkeypatch.setattr(attribution, "LEDGER_CHUNK", chunk)
            seen.append((branch_attribution(reader, "B1", JUL1, JUL31),
                         attribution.manager_attribution(reader, "M1", JUL1, JUL31)))
    assert all(s == seen[0] for s in seen)
    branch, manager = seen[0]
    assert branch is not None and manager is not None
    m1 = [Decimal(p["balance_days"]) for c in customers if c for p in c["parties"]
          if p["party"] == "M1"]
    assert len(m1) == 5 and [Decimal(r["balance_days"]) for r in manager["customers"]] == m1
    assert branch["customers"] == 5
    # July: half of 150,000 × (1 + … + 5) a day to M1, for 31 days
    assert Decimal(manager["balance_days"]) == Decimal(75000 * 15 * 31)
