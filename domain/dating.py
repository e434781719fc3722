"""Business-date guards shared by the aggregates, and the one parser of ISO business dates."""

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


_DATE_CACHE_LIMIT = 50_000  # business dates: a bank's lifetime is a few thousand
_parsed: dict[str, date] = {}


def parse_date(text: str) -> date:
    """`date.fromisoformat`, memoised: a store holds few distinct business dates, and
    sharing one object per date keeps millions of balances small in memory."""
    found = _parsed.get(text)
    if found is None:
        if len(_parsed) > _DATE_CACHE_LIMIT:
            _parsed.clear()
        found = _parsed[text] = date.fromisoformat(text)
    return found
