"""A rule change: publish a rulebook, see it pending, rebuild, read the diff [DOMAIN §6, §9].

Published rulebook 2026.1 (effective 2026-06-01) moves tier D's lower boundary from
"more than 10" to "more than 5" credit customers; everything else is the shipped rulebook.

Credit customers in custody (all assigned 2026-01-01), worked by hand:

  manager  credit customers                          old tier  new tier (from 2026-06-01)
  MA       3                                         E         E        (3 ≤ 5)
  MB       6                                         E         D        (6 > 5)
  MC       10                                        E         D        (10 > 5)
  MD       11                                        D         D        (11 > 10 and > 5)
  ME       0 (no customers)                          E         E
  MF       4, and 6 from 2026-09-01                  E         D from 2026-09-01
  MG       7, and 5 from 2026-08-01 (2 closed)       E         D 2026-06-01 … 2026-08-01,
                                                               E again from 2026-08-01

So the diff names exactly MB, MC, MF and MG.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from application import commands as c
from application.service import BookOfBusiness
from projections.rebuild import rebuild
from projections.replay import book_reader
from projections.reports.tiers import branch_tiers, manager_tier, tier_history
from projections.runner import Projector
from tests.projection_support import (
    active,
    assign,
    close_credit,
    grant,
    onboard,
    projector,
    register,
)
from tests.support import default_document

pytestmark = pytest.mark.integration

JAN1 = date(2026, 1, 1)
EFFECTIVE = date(2026, 6, 1)
BOOKS = {"MA": 3, "MB": 6, "MC": 10, "MD": 11, "ME": 0, "MF": 6, "MG": 7}
LATE_GRANTS = {"MF": (4, date(2026, 9, 1))}  # customers 4.. get credit on that date
EARLY_CLOSES = {"MG": (5, date(2026, 8, 1))}  # customers 5.. lose credit on that date


def rulebook(version: str, effective_from: date, d_more_than: int) -> dict[str, Any]:
    document = copy.deepcopy(default_document())
    document["version"] = version
    document["effective_from"] = effective_from.isoformat()
    tier_d = next(t for t in document["tiers"] if t["tier"] == "D")
    tier_d["more_than"] = d_more_than
    return document


def write_books(app: BookOfBusiness) -> None:
    for staff_no, count in BOOKS.items():
        register(app, staff_no)
        late_from, late_on = LATE_GRANTS.get(staff_no, (count, JAN1))
        close_from, close_on = EARLY_CLOSES.get(staff_no, (count, JAN1))
        for i in range(count):
            no = f"{staff_no}C{i}"
            onboard(app, no)
            assign(app, no, staff_no)
            grant(app, no, late_on if i >= late_from else JAN1)
            if i >= close_from:
                close_credit(app, no, close_on)


def tier(read_side: Projector, staff_no: str, on: date) -> tuple[str, int, str]:
    with book_reader(read_side) as reader:
        found = manager_tier(reader, staff_no, on)
    assert found is not None
    return found["tier"], found["credit_customers"], found["rulebook_version"]


def book_status(read_side: Projector) -> Any:
    return next(s for s in read_side.status() if s.name == "book" and s.status == "active")


def test_publish_pending_rebuild_diff_and_switch(app: BookOfBusiness) -> None:
    write_books(app)
    with projector(app) as read_side:
        read_side.catch_up_all()
        assert book_status(read_side).pending_rulebooks == []
        assert tier(read_side, "MB", date(2026, 7, 1)) == ("E", 6, "2024.1")

        published = app.publish_rulebook(c.PublishRulebook(
            document=rulebook("2026.1", EFFECTIVE, 5), actor="policy-office",
            reason="tier D from 6 credit customers"))
        assert published.result["version"] == "2026.1"

        # The serving generation follows the event but does not adopt the new rules.
        read_side.catch_up_all()
        status = book_status(read_side)
        assert status.pending_rulebooks == ["2026.1"]
        assert status.rulebook_version == "2024.1"
        assert status.lag == 0
        assert all(s.pending_rulebooks == [] for s in read_side.status() if s.name == "audit")
        assert tier(read_side, "MB", date(2026, 7, 1)) == ("E", 6, "2024.1")
        serving = active(read_side).generation

        report = rebuild(read_side)
        assert report.status == "finished"
        assert report.rulebook_version == "2026.1"
        assert report.generations["book"][0] == serving
        assert report.diff is not None
        assert report.diff["tiers"] == [
            {"staff_no": "MB", "changes": [
                {"from_tier": "E", "to_tier": "D", "from": "2026-06-01", "until": None}]},
            {"staff_no": "MC", "changes": [
                {"from_tier": "E", "to_tier": "D", "from": "2026-06-01", "until": None}]},
            {"staff_no": "MF", "changes": [
                {"from_tier": "E", "to_tier": "D", "from": "2026-09-01", "until": None}]},
            {"staff_no": "MG", "changes": [
                {"from_tier": "E", "to_tier": "D", "from": "2026-06-01", "until": "2026-08-01"}]},
        ]
        assert report.diff["attribution"] == []  # no handovers: no base moves

        # The new generation serves; nothing is pending any more.
        assert active(read_side).generation == report.generations["book"][1] != serving
        status = book_status(read_side)
        assert (status.pending_rulebooks, status.rulebook_version) == ([], "2026.1")

        # Old rules before the effective date, new rules from it.
        assert tier(read_side, "MB", date(2026, 5, 31)) == ("E", 6, "2024.1")
        assert tier(read_side, "MB", EFFECTIVE) == ("D", 6, "2026.1")
        assert tier(read_side, "MC", EFFECTIVE) == ("D", 10, "2026.1")
        assert tier(read_side, "MA", EFFECTIVE) == ("E", 3, "2026.1")
        assert tier(read_side, "MD", date(2026, 5, 31)) == ("D", 11, "2024.1")
        assert tier(read_side, "MD", EFFECTIVE) == ("D", 11, "2026.1")
        assert tier(read_side, "MF", date(2026, 8, 31)) == ("E", 4, "2026.1")
        assert tier(read_side, "MF", date(2026, 9, 1)) == ("D", 6, "2026.1")
        assert tier(read_side, "MG", date(2026, 7, 31)) == ("D", 7, "2026.1")
        assert tier(read_side, "MG", date(2026, 8, 1)) == ("E", 5, "2026.1")
        with book_reader(read_side) as reader:
            assert tier_history(reader, "MB") == [
                {"from": "2020-01-01", "until": "2026-01-01", "tier": "E", "credit_customers": 0,
                 "rulebook_version": "2024.1"},
                {"from": "2026-01-01", "until": "2026-06-01", "tier": "E", "credit_customers": 6,
                 "rulebook_version": "2024.1"},
                {"from": "2026-06-01", "until": None, "tier": "D", "credit_customers": 6,
                 "rulebook_version": "2026.1"},
            ]
            before = branch_tiers(reader, None, date(2026, 5, 31))
            after = branch_tiers(reader, None, date(2026, 7, 1))
        assert before["rulebook_version"] == "2024.1"
        assert before["distribution"] == {"A": 0, "B": 0, "C": 0, "D": 1, "E": 6}
        assert after["rulebook_version"] == "2026.1"
        assert after["distribution"] == {"A": 0, "B": 0, "C": 0, "D": 4, "E": 3}


def test_what_if_rebuild_reports_a_diff_and_never_switches(app: BookOfBusiness) -> None:
    """What if, from 2026-10-01, D started above 2? Over the serving 2024.1 rules: MA (3),
    MB (6), MC (10), MF (4, then 6 from 09-01) and MG (5 from 08-01) go E → D from
    2026-10-01; MD is D already; ME (0) stays E."""
    write_books(app)
    with projector(app) as read_side:
        read_side.catch_up_all()
        serving = active(read_side).generation
        generations_before = [(g.name, g.generation, g.status) for g in read_side.registry.all()]

        report = rebuild(read_side, what_if=rulebook("what-if-1", date(2026, 10, 1), 2))
        assert report.status == "finished"
        assert report.what_if == "what-if-1"
        assert report.projections == ["book"]
        assert report.diff is not None
        change = [{"from_tier": "E", "to_tier": "D", "from": "2026-10-01", "until": None}]
        assert report.diff["tiers"] == [{"staff_no": s, "changes": change}
                                        for s in ("MA", "MB", "MC", "MF", "MG")]

        # Not switched, not kept: the serving generation and its figures are as before.
        assert active(read_side).generation == serving
        assert [(g.name, g.generation, g.status) for g in read_side.registry.all()] == \
            generations_before
        assert tier(read_side, "MA", date(2026, 10, 15)) == ("E", 3, "2024.1")
        status = book_status(read_side)
        assert (status.pending_rulebooks, status.rulebook_version) == ([], "2024.1")
