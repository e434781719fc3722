"""Manual VIP grants [S2 §7]: approver and reason required; a grant lifts, never lowers."""

from __future__ import annotations

from datetime import date

import pytest

from application import commands as c
from application.service import BookOfBusiness
from domain.errors import InvalidInput
from projections.replay import book_reader
from projections.reports.vip import vip_customers
from tests.projection_support import balance, onboard, projector

pytestmark = pytest.mark.integration
JAN1 = date(2026, 1, 1)


def grant(app: BookOfBusiness, no: str, level: str, on: date, reason: str | None = "关系维护",
          approver: str = "支行行长") -> None:
    app.grant_vip(c.GrantVip(customer_no=no, level=level, approver=approver, on=on,
                             reason=reason, actor="ops"))


def test_a_grant_lifts_a_level_from_its_date_and_never_lowers(app: BookOfBusiness) -> None:
    onboard(app, "P1", segment="individual")
    onboard(app, "P2", segment="individual")
    onboard(app, "K1")
    balance(app, "P2", JAN1, "0.00", "1000000.00")  # head office by loan on any later day
    grant(app, "P1", "branch", date(2026, 3, 1))
    grant(app, "P2", "branch", date(2026, 3, 1))
    with pytest.raises(InvalidInput) as refused:
        grant(app, "P1", "head_office", date(2026, 4, 1), reason=None)
    assert refused.value.field == "reason"
    with pytest.raises(InvalidInput):
        grant(app, "K1", "branch", date(2026, 4, 1))  # corporate: not a VIP customer
    with projector(app) as read_side, book_reader(read_side) as reader:
        before = vip_customers(reader, "B1", date(2026, 2, 28))
        after = vip_customers(reader, "B1", date(2026, 3, 31))
    assert [r["customer_no"] for r in before["customers"]] == ["P2"]
    rows = {r["customer_no"]: r for r in after["customers"]}
    assert (rows["P1"]["level"], rows["P1"]["granted"], rows["P1"]["approver"]) == (
        "branch", True, "支行行长")
    assert rows["P1"]["criterion"] is None
    # P2 meets head office by its loan: the lower grant does not lower it
    assert (rows["P2"]["level"], rows["P2"]["granted"]) == ("head_office", False)
    assert after["counts"] == {"head_office": 1, "branch": 1}
