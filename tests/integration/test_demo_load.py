"""Loading the (hidden, tiny) synthetic bank through the real application into SQLite."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from application.demo import load_demo
from application.service import BookOfBusiness
from application.settings import Settings
from domain.rules.base_window import handover_base

pytestmark = pytest.mark.integration

YEAR_END = date(2025, 12, 31)
CUSTOMERS = [f"C{n:06d}" for n in range(1, 31)]  # the tiny scale's 30 customers
Loaded = tuple[BookOfBusiness, dict[str, Any]]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    path: Path = tmp_path_factory.mktemp("demo") / "d.db"
    bank = BookOfBusiness(Settings(database_url=f"sqlite:///{path}"))
    stats = load_demo(bank, scale="tiny", seed=42)
    yield bank, stats
    bank.close()


def _topics(bank: BookOfBusiness) -> Counter[str]:
    return Counter(n.topic for n in bank.iter_notifications())


def test_the_whole_year_is_written(loaded: Loaded) -> None:
    bank, stats = loaded
    topics = _topics(bank)
    assert stats["events written"] == bank.max_position() == sum(topics.values())
    assert topics["rmbook/Customer/Onboarded"] == stats["customers"] == 30
    assert topics["rmbook/Manager/Registered"] == 4
    assert topics["rmbook/Customer/BalanceRecorded"] == stats["balance rows"] > 1000
    assert topics["rmbook/Customer/BalanceCorrected"] == 0


def test_every_open_customer_has_exactly_one_custodian(
        loaded: Loaded) -> None:
    bank, _ = loaded
    books = Counter(no for staff in ("M0001", "M0002", "M0003", "M0004")
                    for no in bank.manager_view(staff, YEAR_END)["customers"])
    for no in CUSTOMERS:
        closed = bank.customer_view(no, YEAR_END)["closed_on"] is not None
        custodian = bank.custody(no, YEAR_END)["custodian"]
        assert (custodian is None) == closed, no
        assert books[no] == (0 if closed else 1), no


def test_rulebook_2025_2_applies_from_july(loaded: Loaded) -> None:
    bank, _ = loaded
    assert bank.rulebook_on(date(2025, 6, 30)).version == "2024.1"
    assert bank.rulebook_on(date(2025, 7, 1)).version == "2025.2"


def test_handovers_and_full_transfers_happened(loaded: Loaded) -> None:
    bank, stats = loaded
    modes = Counter(term.mode for no in CUSTOMERS
                    for term in bank.custody(no, YEAR_END)["chain"])
    assert modes["handover"] == stats["handovers"] >= 1
    assert modes["full"] == stats["full transfers"] >= 1
    assert stats["departures"] == 1


def test_handover_bases_saw_every_earlier_balance(loaded: Loaded) -> None:
    # The loader holds feed rows back; a handover's base must still see all rows before it.
    bank, _ = loaded
    checked = 0
    for no in CUSTOMERS:
        deposits = bank.customer(no).deposits()
        for term in bank.custody(no, YEAR_END)["chain"]:
            if term.mode == "handover":
                base = handover_base(deposits, term.effective_on)
                assert term.base_balance_days == base.balance_days > 0, no
                checked += 1
    assert checked >= 1
