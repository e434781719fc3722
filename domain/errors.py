"""Refusals. Each is a distinct error with the stable code of API.md.

A refusal names the field it concerns and the rule (with its seed article)
it enforces, so a person reading the message knows why, not just that.
Nothing is written when a refusal is raised: aggregates check before they
trigger events.
"""

from __future__ import annotations

from typing import ClassVar


class Refusal(Exception):
    """A command the rules do not allow. Subclasses fix the stable `code`."""

    code: ClassVar[str] = "refused"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule

    def __str__(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.message}{rule}"


class InvalidInput(Refusal):
    """A value that is malformed or out of its allowed set."""

    code = "validation_error"


class NotFound(Refusal):
    code = "not_found"


class AlreadyExists(Refusal):
    code = "already_exists"


class RatioBelowFloor(Refusal):
    code = "ratio_below_floor"


class CapacityExceeded(Refusal):
    code = "capacity_exceeded"


class IneligibleCustodian(Refusal):
    code = "ineligible_custodian"


class CustodianDeparted(Refusal):
    code = "custodian_departed"


class SameCustodian(Refusal):
    code = "same_custodian"


class DateOutOfRange(Refusal):
    code = "date_out_of_range"


class SecondBasicAccount(Refusal):
    code = "second_basic_account"


class CustomerClosed(Refusal):
    code = "customer_closed"


class AccountClosed(Refusal):
    code = "account_closed"


class NotAssigned(Refusal):
    code = "not_assigned"


class AlreadyAssigned(Refusal):
    code = "already_assigned"


class ManagerDeparted(Refusal):
    """A command that needs a serving manager (e.g. a grade change after departure)."""

    code = "manager_departed"


class RulebookInvalid(Refusal):
    code = "rulebook_invalid"

    def __init__(self, problems: list[tuple[str, str]]):
        detail = "; ".join(f"{field}: {message}" for field, message in problems)
        super().__init__(f"rulebook is invalid: {detail}", field=problems[0][0] if problems else None)
        self.problems = problems


class ConcurrencyConflict(Refusal):
    """Someone else changed the same aggregate first; retry on fresh state."""

    code = "concurrency_conflict"


class AccountsOpen(Refusal):
    """A customer is closed only when all its accounts are closed."""

    code = "accounts_open"
