"""Business-date guards shared by the aggregates."""

from __future__ import annotations

from datetime import date

from domain.errors import DateOutOfRange


def not_after_today(on: date, today: date, field: str = "on") -> None:
    if on > today:
        raise DateOutOfRange(f"{field} {on} is after today ({today})", field=field,
                             rule="facts are recorded for past or present business dates")


def not_before(on: date, earliest: date, what: str, field: str = "on") -> None:
    if on < earliest:
        raise DateOutOfRange(f"{field} {on} is before {what} ({earliest})", field=field)
