"""The nightly balance feed: `customer_no,on,deposit,loan` as CSV or JSON lines.

The whole file is validated before anything is committed: every row is parsed
and applied to its customer in memory, so both format errors and rule
refusals (unknown customer, future date, before onboarding …) are reported
with their row number. Then, unless invalid rows exist and `skip_invalid` is
off, the events are saved in large transactions. (On PostgreSQL a night's
file is copied while it is decided, in one transaction that commits only
after the last row and rolls back on a refusal: ADR 0028.) Re-importing the same file
writes nothing new: identical balances are no-ops, and differing ones become
corrections (DOMAIN §2).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, NamedTuple

import orjson

from application.recorders import COPY_FROM
from domain.customer import BalanceOutcome, Customer
from domain.dating import parse_date
from domain.errors import Refusal
from domain.money import parse_amount

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Events per transaction: large, yet bounded in memory and lock time. (PostgreSQL batches this
# size travel by COPY, application/recorders.py: the library's pipelined insert would deadlock.)
CHUNK_EVENTS = {"sqlite": 20_000, "postgres": 20_000}
# Valid rows in a file that PostgreSQL takes as they are decided, in one transaction that
# holds the event table's lock meanwhile (ADR 0028): a night's feed, not a year re-sent.
# A row decided, encoded and sent costs ≈ 16–20 µs, so the lock is held about a second at
# most (estimated, not measured at that size). Below, the library's insert.
STREAMED_ROWS = range(COPY_FROM, 50_001)

Progress = Callable[[int, int], None]


class BalanceRow(NamedTuple):
    """One valid feed row (a named tuple: a feed has millions, and tuples build fast)."""

    row: int  # line number in the file (1-based, header included)
    customer_no: str
    on: date
    deposit_fen: int
    loan_fen: int


@dataclass(frozen=True)
class InvalidRow:
    row: int
    code: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    recorded: int = 0
    unchanged: int = 0
    corrections: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)
    written: bool = False
    position: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["invalid"] = [asdict(i) for i in self.invalid]
        return data


def _row(line: int, fields: dict[str, Any]) -> BalanceRow | InvalidRow:
    customer_no = fields.get("customer_no")
    if not isinstance(customer_no, str) or not _IDENTIFIER.fullmatch(customer_no):
        return InvalidRow(line, "validation_error",
                          f"customer_no must match [A-Za-z0-9_-]{{1,32}}, got {customer_no!r}")
    raw_on = fields.get("on")
    try:
        on = parse_date(str(raw_on))
    except ValueError:
        return InvalidRow(line, "validation_error", f"on must be a date YYYY-MM-DD, got {raw_on!r}")
    amounts = []
    for name, default in (("deposit", None), ("loan", "0.00")):
        raw = fields.get(name)
        if raw is None or raw == "":
            raw = default
        if raw is None:
            return InvalidRow(line, "validation_error", f"{name} is required")
        if str(raw).strip().startswith("-"):
            return InvalidRow(line, "validation_error", f"{name} is never negative, got {raw}")
        try:
            amounts.append(parse_amount(str(raw), field=name))
        except Refusal as e:
            return InvalidRow(line, e.code, e.message)
    return BalanceRow(line, customer_no, on, amounts[0], amounts[1])


def parse_feed(data: bytes | str, fmt: str | None = None) -> list[BalanceRow | InvalidRow]:
    """Parse a feed. `fmt` is "csv" or "jsonl"; None guesses from the first character."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    if fmt is None:
        fmt = "jsonl" if text.lstrip().startswith("{") else "csv"
    rows: list[BalanceRow | InvalidRow] = []
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                rows.append(InvalidRow(number, "validation_error", f"not valid JSON: {e}"))
                continue
            if not isinstance(obj, dict):
                rows.append(InvalidRow(number, "validation_error", "each line is a JSON object"))
                continue
            rows.append(_row(number, obj))
        return rows
    if fmt != "csv":
        raise ValueError(f"unknown feed format {fmt!r}; use csv or jsonl")
    plain = _plain_file(text)
    return plain if plain is not None else _csv_rows(text)


def _csv_rows(text: str) -> list[BalanceRow | InvalidRow]:
    """Any CSV feed: quoting, spaces, columns in another order, blank loans, errors."""
    rows: list[BalanceRow | InvalidRow] = []
    names = _COLUMNS
    for number, record in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if names is _COLUMNS and len(record) == 4:
            fast = _fast_row(number, record)
            if fast is not None:
                rows.append(fast)
                continue
        if not record or all(not cell.strip() for cell in record):
            continue
        if number == 1 and record[0].strip() == "customer_no":
            names = [cell.strip() for cell in record]
            if names == _COLUMNS:
                names = _COLUMNS
            continue
        if len(record) > len(names):
            rows.append(InvalidRow(number, "validation_error",
                                   f"expected at most {len(names)} columns, got {len(record)}"))
            continue
        rows.append(_row(number, dict(zip(names, (c.strip() for c in record), strict=False))))
    return rows


_COLUMNS = ["customer_no", "on", "deposit", "loan"]
_PLAIN_AMOUNT = re.compile(r"(\d{1,15})(?:\.(\d{1,2}))?")


def _fen(text: str) -> int | None:
    found = _PLAIN_AMOUNT.fullmatch(text)
    if found is None:
        return None
    whole, cents = found.groups()
    return int(whole) * 100 + (int(cents.ljust(2, "0")) if cents else 0)


_HEADER = re.compile(r"customer_no,on,deposit,loan\r?")
_PLAIN_LINE = re.compile(
    r"([A-Za-z0-9_-]{1,32}),([0-9]{4}-[0-9]{2}-[0-9]{2}),"
    r"([0-9]{1,15})(?:\.([0-9]{1,2}))?,([0-9]{1,15})(?:\.([0-9]{1,2}))?\r?")
# The cents group as matched (absent, one digit or two) → fen: a lookup, not int() and ljust
_CENTS: dict[str | None, int] = {None: 0, **{f"{n:02d}": n for n in range(100)},
                                 **{str(n): n * 10 for n in range(10)}}


def _plain_file(text: str) -> list[BalanceRow | InvalidRow] | None:
    """The usual file — the header, then `customer_no,YYYY-MM-DD,amount,amount` on every
    line, no quotes, no blanks — read with one pattern per line. A feed is millions of
    rows, and this is a fraction of the csv module's cost per row. Any other line (and
    so every error) sends the whole file down the general path, which words the error."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not _HEADER.fullmatch(lines[0]):
        return None
    rows: list[BalanceRow | InvalidRow] = []
    match = _PLAIN_LINE.fullmatch
    cents = _CENTS
    for number, line in enumerate(lines[1:], start=2):
        found = match(line)
        if found is None:
            return None
        customer_no, on_text, deposit, deposit_cents, loan, loan_cents = found.groups()
        try:
            on = parse_date(on_text)
        except ValueError:
            return None
        rows.append(BalanceRow(number, customer_no, on,
                               int(deposit) * 100 + cents[deposit_cents],
                               int(loan) * 100 + cents[loan_cents]))
    return rows


def _fast_row(number: int, record: list[str]) -> BalanceRow | None:
    """A well-formed row in the usual column order, parsed with no detours. Anything
    unusual (spaces, a blank loan, a bad value) returns None and takes the general path,
    which words the error."""
    customer_no, on_text, deposit_text, loan_text = record
    if not _IDENTIFIER.fullmatch(customer_no):
        return None
    try:
        on = parse_date(on_text)
    except ValueError:
        return None
    deposit, loan = _fen(deposit_text), _fen(loan_text)
    if deposit is None or loan is None:
        return None
    return BalanceRow(number, customer_no, on, deposit, loan)


def apply_feed(rows: Iterable[BalanceRow | InvalidRow],
               load: Callable[[str], Customer], *, today: date, actor: str,
               reason: str | None, emitted: Callable[[Any], None] | None = None
               ) -> tuple[ImportReport, dict[str, Customer]]:
    """Apply every row to its customer in memory; nothing is saved here, but each event a
    row triggers is handed to `emitted`, in order, as it is triggered (which may copy it
    to the store, uncommitted: ADR 0028)."""
    report = ImportReport()
    customers: dict[str, Customer] = {}
    missing: dict[str, Refusal] = {}
    seen: dict[tuple[str, date], tuple[int, int, int]] = {}
    for item in rows:
        report.rows += 1
        if isinstance(item, InvalidRow):
            report.invalid.append(item)
            continue
        key = (item.customer_no, item.on)
        values = (item.deposit_fen, item.loan_fen)
        earlier = seen.get(key)
        if earlier is not None:
            if earlier[1:] == values:
                report.unchanged += 1
            else:
                report.invalid.append(InvalidRow(
                    item.row, "duplicate_row",
                    f"{item.customer_no} on {item.on} already has different values in row "
                    f"{earlier[0]} of this file"))
            continue
        customer = customers.get(item.customer_no)
        if customer is None and item.customer_no not in missing:
            try:
                customer = customers[item.customer_no] = load(item.customer_no)
            except Refusal as e:
                missing[item.customer_no] = e
        if customer is None:
            refusal = missing[item.customer_no]
            report.invalid.append(InvalidRow(item.row, refusal.code, refusal.message))
            continue
        try:
            outcome = customer.record_balance(on=item.on, deposit_fen=item.deposit_fen,
                                              loan_fen=item.loan_fen, today=today, actor=actor,
                                              reason=reason)
        except Refusal as e:
            report.invalid.append(InvalidRow(item.row, e.code, e.message))
            continue
        seen[key] = (item.row, *values)
        if emitted is not None and outcome != BalanceOutcome.UNCHANGED:
            emitted(customer.pending_events[-1])
        if outcome == BalanceOutcome.RECORDED:
            report.recorded += 1
        elif outcome == BalanceOutcome.CORRECTED:
            report.corrections += 1
        else:
            report.unchanged += 1
    return report, customers


def write_feed(report: ImportReport, customers: list[Customer],
               commit: Callable[..., int | None], progress: Progress | None,
               chunk: int = CHUNK_EVENTS["sqlite"]) -> ImportReport:
    """Save the customers' new balance events, about `chunk` events per transaction."""
    pending = [cu for cu in customers if cu.pending_events]
    total = sum(len(cu.pending_events) for cu in pending)
    done = 0
    batch: list[Customer] = []
    batch_events = 0
    for i, customer in enumerate(pending):
        batch.append(customer)
        batch_events += len(customer.pending_events)
        if batch_events >= chunk or i == len(pending) - 1:
            report.position = commit(*batch) or report.position
            done += batch_events
            if progress is not None:
                progress(done, total)
            batch, batch_events = [], 0
    report.written = total > 0
    return report
