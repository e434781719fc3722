"""The rulebook as data [DOMAIN §4, §6, §9]: the shipped default, validation, lookup by date."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from application.service import builtin_rulebook
from domain.errors import RulebookInvalid
from domain.rulebook import RulebookHistory, parse_rulebook
from domain.rulebooks import RulebookRegistry
from domain.values import Basis, Role, Segment
from tests.support import SPEC_RULEBOOK_PATH, default_document, refuses

pytestmark = pytest.mark.unit


def document(**changes) -> dict:
    doc = default_document()
    doc.update(changes)
    return doc


def problems_of(doc) -> list[tuple[str, str]]:
    with pytest.raises(RulebookInvalid) as info:
        parse_rulebook(doc)
    assert info.value.code == "rulebook_invalid"
    return info.value.problems


# ---- the shipped default -----------------------------------------------------------------


def test_shipped_default_equals_the_spec_rulebook():
    if not SPEC_RULEBOOK_PATH.exists():
        pytest.skip(f"{SPEC_RULEBOOK_PATH} is not present")
    spec = json.loads(SPEC_RULEBOOK_PATH.read_text("utf-8"))
    shipped = builtin_rulebook()
    assert shipped.document == spec
    assert shipped == parse_rulebook(spec)


def test_shipped_default_carries_the_policy_numbers():
    rb = builtin_rulebook()
    assert (rb.version, rb.effective_from) == ("2024.1", date(2024, 1, 1))
    assert rb.floor_for(Basis.NATURAL) == 5000
    assert rb.floor_for(Basis.PUBLIC) == 0
    assert rb.floor_for(Basis.MARKETED_WITH_BRANCH_RESOURCES) == 8000
    assert rb.floor_for(Basis.MARKETED_WITHOUT_BRANCH_RESOURCES) == 10000
    assert (rb.handover_deposit_floor, rb.handover_non_deposit_floor) == (6000, 8000)
    assert rb.base_window == "previous_half_year"
    assert rb.eligibility[Segment.CORPORATE] == {Role.CUSTOMER_MANAGER}
    assert rb.eligibility[Segment.INDIVIDUAL] == {
        Role.CUSTOMER_MANAGER, Role.RETAIL_MANAGER, Role.ASSISTANT_PRIVATE,
        Role.ASSISTANT_DIAMOND}
    assert {role: (cap.counts, cap.max) for role, cap in rb.caps.items()} == {
        Role.CUSTOMER_MANAGER: ("corporate_credit_customers", 50),
        Role.ASSISTANT_PRIVATE: ("customers", 35),
        Role.ASSISTANT_DIAMOND: ("customers", 100),
    }
    assert rb.visits.large_credit_loan_at_least == 300_000_00
    assert (rb.visits.large_credit, rb.visits.credit, rb.visits.non_credit_corporate) == (
        "month", "quarter", "half_year")
    assert (rb.branch_targets.new_accounts_per_week, rb.branch_targets.new_accounts_per_month,
            rb.branch_targets.new_basic_accounts_per_month) == (1, 4, 2)
    assert rb.vip_head_office.avg_monthly_deposit == 500_000_00
    assert rb.vip_head_office.loan_balance == 1_000_000_00
    assert rb.vip_head_office.card_spending_12m == 100_000_00
    assert rb.vip_branch("ANY").avg_monthly_deposit == 200_000_00


@pytest.mark.parametrize(
    ("credit_customers", "tier"),
    [(0, "E"), (10, "E"), (11, "D"), (20, "D"), (21, "C"), (30, "C"), (31, "B"), (40, "B"),
     (41, "A"), (500, "A")],
)
def test_tier_boundaries(credit_customers, tier):
    rule = builtin_rulebook().tier_for(credit_customers)
    assert rule.tier == tier
    assert rule.focus


def test_branch_vip_override():
    doc = document()
    doc["vip"]["branch_overrides"] = {"B9": {"avg_monthly_deposit": "100.00",
                                             "loan_balance": "200.00",
                                             "card_spending_12m": "300.00"}}
    rb = parse_rulebook(doc)
    assert (rb.vip_branch("B9").avg_monthly_deposit, rb.vip_branch("B9").loan_balance,
            rb.vip_branch("B9").card_spending_12m) == (10000, 20000, 30000)
    assert rb.vip_branch("B1") == rb.vip_branch_default


# ---- validation: every problem, with its field path --------------------------------------


def test_an_invalid_document_lists_every_problem_with_field_paths():
    doc = default_document()
    doc["version"] = "bad version!"
    doc["effective_from"] = "2026-13-01"
    doc["tiers"][1]["more_than"] = 99  # no longer decreasing
    del doc["tiers"][2]["focus"]
    doc["claim_floors"]["natural"] = "1.5"
    del doc["claim_floors"]["handover_deposit"]
    doc["claim_floors"]["public"] = 0  # not a string
    doc["base_window"] = "fortnight"
    doc["eligibility"]["corporate"] = ["customer_manager", "janitor"]
    doc["caps"]["wizard"] = {"counts": "customers", "max": 1}
    doc["caps"]["customer_manager"]["max"] = -1
    doc["caps"]["assistant_private"]["counts"] = "heads"
    doc["visits"]["credit"] = "weekly"
    doc["visits"]["large_credit_loan_at_least"] = "-5.00"
    doc["branch_targets"]["new_accounts_per_week"] = -1
    doc["branch_targets"]["new_accounts_per_month"] = True  # bool is not an int
    doc["vip"]["head_office"]["loan_balance"] = "lots"
    doc["vip"]["branch_overrides"] = {"B9": {"avg_monthly_deposit": "1.00"}}
    problems = problems_of(doc)
    paths = [path for path, _ in problems]
    expected = {
        "version", "effective_from", "tiers", "tiers[2].focus", "claim_floors.natural",
        "claim_floors.handover_deposit", "claim_floors.public", "base_window",
        "eligibility.corporate", "caps.wizard", "caps.customer_manager.max",
        "caps.assistant_private.counts", "visits.credit", "visits.large_credit_loan_at_least",
        "branch_targets.new_accounts_per_week", "branch_targets.new_accounts_per_month",
        "vip.head_office.loan_balance", "vip.branch_overrides.B9.loan_balance",
        "vip.branch_overrides.B9.card_spending_12m",
    }
    assert expected <= set(paths), sorted(expected - set(paths))
    assert all(message for _, message in problems)
    messages = dict(problems)
    assert "required" in messages["tiers[2].focus"]
    assert "janitor" in messages["eligibility.corporate"]
    assert "previous_half_year" in messages["base_window"]
    # the exception message names every field too
    with pytest.raises(RulebookInvalid) as info:
        parse_rulebook(doc)
    for path in expected:
        assert path in str(info.value)


@pytest.mark.parametrize(
    "missing",
    ["version", "effective_from", "tiers", "claim_floors", "base_window", "eligibility", "caps",
     "visits", "branch_targets", "vip"],
)
def test_every_top_level_section_is_required(missing):
    doc = default_document()
    del doc[missing]
    paths = [path for path, _ in problems_of(doc)]
    assert missing in paths or any(p.startswith(f"{missing}.") for p in paths)


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([], "at least one"),
        ([{"tier": "A", "more_than": 10, "focus": "x"}], "catch every count"),
        ([{"tier": "A", "more_than": 10, "focus": "x"},
          {"tier": "A", "more_than": -1, "focus": "y"}], "unique"),
        ([{"tier": "A", "more_than": 10, "focus": "x"},
          {"tier": "B", "more_than": 10, "focus": "y"},
          {"tier": "C", "more_than": -1, "focus": "z"}], "strictly decrease"),
    ],
)
def test_tier_table_rules(tiers, message):
    problems = problems_of(document(tiers=tiers))
    assert any(path == "tiers" and message in text for path, text in problems), problems


def test_a_non_object_is_refused():
    for doc in ([], "rulebook", None, 3):
        assert problems_of(doc) == [("", "the rulebook must be a JSON object")]


def test_parsing_does_not_modify_the_document():
    doc = default_document()
    original = copy.deepcopy(doc)
    parse_rulebook(doc)
    assert doc == original


# ---- lookup by business date -------------------------------------------------------------


def versions(*pairs: tuple[str, str]) -> RulebookHistory:
    return RulebookHistory.of([parse_rulebook(document(version=v, effective_from=f))
                               for v, f in pairs])


def test_lookup_picks_the_version_in_force_on_the_business_date():
    history = versions(("2026.1", "2026-07-01"), ("2024.1", "2024-01-01"),
                       ("2025.1", "2025-01-01"))
    assert [r.version for r in history.versions] == ["2024.1", "2025.1", "2026.1"]
    assert history.effective_on(date(2023, 12, 31)).version == "2024.1"  # before the first
    assert history.effective_on(date(2024, 1, 1)).version == "2024.1"
    assert history.effective_on(date(2024, 12, 31)).version == "2024.1"
    assert history.effective_on(date(2025, 1, 1)).version == "2025.1"
    assert history.effective_on(date(2026, 6, 30)).version == "2025.1"
    assert history.effective_on(date(2026, 7, 1)).version == "2026.1"
    assert history.effective_on(date(2030, 1, 1)).version == "2026.1"
    assert history.by_version("2025.1").effective_from == date(2025, 1, 1)
    assert history.by_version("nope") is None


# ---- publishing is an event --------------------------------------------------------------


def registry() -> RulebookRegistry:
    reg = RulebookRegistry(on=date(2024, 1, 1), actor="admin", reason="opened")
    reg.collect_events()
    return reg


def test_publishing_records_the_document_and_extends_the_history():
    reg = registry()
    builtin = builtin_rulebook()
    doc = document(version="2026.1", effective_from="2026-06-01", base_window="year_to_date")
    published = reg.publish(document=doc, actor="admin", reason="ytd base", builtin=builtin)
    events = reg.collect_events()
    assert [type(e).__name__ for e in events] == ["Published"]
    assert (events[0].version, events[0].on, events[0].actor, events[0].reason) == (
        "2026.1", date(2026, 6, 1), "admin", "ytd base")
    assert events[0].document == doc
    assert published.base_window == "year_to_date"
    history = reg.history(builtin)
    assert history.effective_on(date(2026, 5, 31)).version == "2024.1"
    assert history.effective_on(date(2026, 6, 1)).base_window == "year_to_date"


def test_publishing_refusals():
    reg = registry()
    builtin = builtin_rulebook()
    reg.publish(document=document(version="2026.1", effective_from="2026-06-01"), actor="a",
                builtin=builtin)
    reg.collect_events()
    with refuses("already_exists", reg, field="version"):
        reg.publish(document=document(version="2026.1", effective_from="2026-09-01"), actor="a",
                    builtin=builtin)
    with refuses("already_exists", reg, field="version"):
        reg.publish(document=document(effective_from="2026-09-01"), actor="a", builtin=builtin)
    with refuses("validation_error", reg, field="effective_from"):
        reg.publish(document=document(version="2026.2", effective_from="2026-06-01"), actor="a",
                    builtin=builtin)
    with refuses("date_out_of_range", reg, field="effective_from"):
        reg.publish(document=document(version="2023.1", effective_from="2023-12-31"), actor="a",
                    builtin=builtin)
    with refuses("rulebook_invalid", reg, field="base_window"):
        reg.publish(document=document(version="2026.3", base_window="weekly"), actor="a",
                    builtin=builtin)
