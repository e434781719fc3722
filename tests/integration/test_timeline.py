"""Audit timelines for a customer, a manager and a branch [DOMAIN §9].

Every event about the subject, in order, with business date, recorded time, actor,
reason, the rulebook version in force on the business date and a one-line summary;
paged by position; `known_at` shows only what was recorded by then.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

import pytest

from application import commands as c
from application.service import BookOfBusiness
from projections.audit import AuditProjection
from projections.replay import audit_projection
from projections.timelines import timeline
from tests.projection_support import (
    assign,
    balance,
    handover,
    onboard,
    open_account,
    projector,
    register,
    visit,
)
from tests.support import default_document

pytestmark = pytest.mark.integration

JAN1 = date(2026, 1, 1)
FIELDS = {"position", "recorded_at", "effective_on", "type", "actor", "reason",
          "rulebook_version", "summary", "data"}


def instant() -> datetime:
    time.sleep(0.005)
    moment = datetime.now(UTC)
    time.sleep(0.005)
    return moment


def write(app: BookOfBusiness) -> datetime:
    """Phase 1, then the instant T, then phase 2 (which also backdates a balance)."""
    document = default_document()
    document.update(version="2026.1", effective_from="2026-06-01")
    app.publish_rulebook(c.PublishRulebook(document=document, actor="policy-office",
                                           reason="yearly review"))
    register(app, "M1", actor="hr-01", reason="new hire")
    register(app, "M2", actor="hr-01")
    register(app, "M9", branch="B2", actor="hr-02")
    onboard(app, "X", actor="ops-7", reason="walk-in")
    open_account(app, "X", "A1", actor="ops-7")
    assign(app, "X", "M1", actor="head-B1", reason="first contact")
    balance(app, "X", JAN1, "1000000.00")
    onboard(app, "Z", branch="B2", actor="ops-9")
    moment = instant()
    handover(app, "X", "M2", date(2026, 7, 1), actor="head-B1", reason="M1 moves to retail")
    balance(app, "X", date(2026, 3, 1), "1200000.00", actor="feed", reason="late file")
    visit(app, "X", "M2", date(2026, 7, 2), actor="M2")
    return moment


def rows(audit: AuditProjection, subject: str, **options: Any) -> list[dict[str, Any]]:
    return timeline(audit, subject, limit=1000, **options)["events"]


def columns(events: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(e[n] for n in names) for e in events]


def test_customer_timeline_in_order_with_every_field(app: BookOfBusiness) -> None:
    moment = write(app)
    with projector(app) as read_side:
        audit = audit_projection(read_side)
        events = rows(audit, "customer:X")
    assert all(set(e) == FIELDS for e in events)
    assert columns(events, "type", "effective_on", "actor", "reason", "rulebook_version") == [
        ("Customer/Onboarded", "2026-01-01", "ops-7", "walk-in", "2024.1"),
        ("Customer/AccountOpened", "2026-01-01", "ops-7", None, "2024.1"),
        ("Assignment/Assigned", "2026-01-01", "head-B1", "first contact", "2024.1"),
        ("Manager/CustodyTaken", "2026-01-01", "head-B1", "first contact", "2024.1"),
        ("Customer/BalanceRecorded", "2026-01-01", "feed", None, "2024.1"),
        ("Assignment/Reassigned", "2026-07-01", "head-B1", "M1 moves to retail", "2026.1"),
        ("Manager/CustodyTaken", "2026-07-01", "head-B1", "M1 moves to retail", "2026.1"),
        ("Manager/CustodyReleased", "2026-07-01", "head-B1", "M1 moves to retail", "2026.1"),
        # recorded after the handover, dated before it: ordered by recording, not by date
        ("Customer/BalanceRecorded", "2026-03-01", "feed", "late file", "2024.1"),
        ("Customer/VisitLogged", "2026-07-02", "M2", None, "2026.1"),
    ]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    recorded = [datetime.fromisoformat(e["recorded_at"]) for e in events]
    assert recorded == sorted(recorded)
    assert recorded[5] == recorded[6] == recorded[7]  # one transaction, one recorded instant
    assert all(r.tzinfo is not None for r in recorded)
    assert [r <= moment for r in recorded] == [True] * 5 + [False] * 5
    summaries = [e["summary"] for e in events]
    assert summaries[0] == "corporate customer X onboarded at branch B1 (natural)"
    assert summaries[2] == "assigned to M1 (natural, claim ratio 0.50)"
    assert summaries[4] == "balance deposit 1000000.00, loan 0.00"
    assert summaries[5] == ("handed over from M1 to M2: increment 0.60 deposits / 0.80 "
                            "non-deposit to the incoming, base 1000000.00")
    assert summaries[9] == "routine visit by M2 (on_site)"
    assert events[5]["data"]["to_staff_no"] == "M2"
    assert events[5]["data"]["base_days"] == 181


def test_manager_and_branch_timelines(app: BookOfBusiness) -> None:
    write(app)
    with projector(app) as read_side:
        audit = audit_projection(read_side)
        m1 = rows(audit, "manager:M1")
        m2 = rows(audit, "manager:M2")
        b1 = rows(audit, "branch:B1")
        b2 = rows(audit, "branch:B2")
        nobody = rows(audit, "customer:NOPE")
    assert columns(m1, "type", "summary") == [
        ("Manager/Registered", "customer_manager M1 registered at branch B1, manager band 2"),
        ("Assignment/Assigned", "assigned to M1 (natural, claim ratio 0.50)"),
        ("Manager/CustodyTaken", "took custody of X"),
        ("Assignment/Reassigned", m2[1]["summary"]),
        ("Manager/CustodyReleased", "released custody of X"),
    ]
    assert m1[0]["actor"] == "hr-01"
    assert m1[0]["reason"] == "new hire"
    assert m1[0]["effective_on"] == "2020-01-01"
    assert columns(m2, "type") == [("Manager/Registered",), ("Assignment/Reassigned",),
                                   ("Manager/CustodyTaken",), ("Customer/VisitLogged",)]
    # The branch sees its managers and customers, not the other branch's.
    b1_types = [e["type"] for e in b1]
    assert b1_types.count("Manager/Registered") == 2
    assert b1_types.count("Customer/Onboarded") == 1
    assert {e["position"] for e in m1} | {e["position"] for e in m2} <= {e["position"] for e in b1}
    assert columns(b2, "type", "actor") == [("Manager/Registered", "hr-02"),
                                            ("Customer/Onboarded", "ops-9")]
    assert not {e["position"] for e in b1} & {e["position"] for e in b2}
    assert "RulebookRegistry/Published" not in b1_types
    assert nobody == []
    positions = [e["position"] for e in b1]
    assert positions == sorted(positions)


def test_paging_with_after_and_limit(app: BookOfBusiness) -> None:
    write(app)
    with projector(app) as read_side:
        audit = audit_projection(read_side)
        whole = rows(audit, "branch:B1")
        pages: list[list[dict[str, Any]]] = []
        after = 0
        while True:
            page = timeline(audit, "branch:B1", after=after, limit=4)
            pages.append(page["events"])
            if page["next_after"] is None:
                break
            assert page["next_after"] == page["events"][-1]["position"]
            after = page["next_after"]
        last = timeline(audit, "branch:B1", after=whole[-1]["position"], limit=4)
    assert len(whole) > 8
    assert [len(p) for p in pages[:-1]] == [4] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= 4
    assert [e for p in pages for e in p] == whole
    assert last == {"subject": "branch:B1", "events": [], "next_after": None}


def test_known_at_hides_later_events(app: BookOfBusiness) -> None:
    moment = write(app)
    with projector(app) as read_side:
        audit = audit_projection(read_side)
        now = rows(audit, "customer:X")
        then = rows(audit, "customer:X", known_at=moment)
        m2_then = rows(audit, "manager:M2", known_at=moment)
        first_page = timeline(audit, "customer:X", known_at=moment, limit=3)
        second_page = timeline(audit, "customer:X", known_at=moment, after=first_page["next_after"],
                               limit=3)
        before_anything = rows(audit, "customer:X", known_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert then == now[:5]
    assert "2026-03-01" not in [e["effective_on"] for e in then]  # the backdated balance
    assert columns(m2_then, "type") == [("Manager/Registered",)]
    assert first_page["events"] + second_page["events"] == then
    assert second_page["next_after"] is None
    assert before_anything == []
