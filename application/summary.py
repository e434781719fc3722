"""A short account of what the store holds, read straight from the event sequence."""

from __future__ import annotations

from collections import Counter
from typing import Any

from application.service import BookOfBusiness


def summarize(bank: BookOfBusiness) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    for notification in bank.iter_notifications():
        kinds[notification.topic] += 1
    customers = kinds["rmbook/Customer/Onboarded"]
    return {
        "database": bank.settings.backend,
        "events": sum(kinds.values()),
        "last position": bank.max_position(),
        "managers": kinds["rmbook/Manager/Registered"],
        "customers": customers,
        "closed customers": kinds["rmbook/Customer/Closed"],
        "accounts opened": kinds["rmbook/Customer/AccountOpened"],
        "assignments": kinds["rmbook/Assignment/Assigned"],
        "reassignments": kinds["rmbook/Assignment/Reassigned"],
        "balances recorded": kinds["rmbook/Customer/BalanceRecorded"],
        "balance corrections": kinds["rmbook/Customer/BalanceCorrected"],
        "visits": kinds["rmbook/Customer/VisitLogged"],
        "rulebooks published": kinds["rmbook/RulebookRegistry/Published"],
        "rulebook in force today": bank.rulebook_on(bank.today()).version,
    }
