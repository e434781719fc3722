"""Load the synthetic bank into a store through the real application commands.

Every operation of `application.synthetic_bank.generate` goes through
`BookOfBusiness`: commands through their use-case methods, feed rows through
`import_balances` — the same validation and rules as production, no shortcut.

Feed rows are held back and imported in large batches, because one import of
many rows costs far less than many small ones. Holding them back is safe
except before a handover: its base is the customer's daily-average deposit
over the window before `effective_on`, computed from the balances recorded
*so far*. So before a handover the held rows of that one customer are
imported first; all other rows keep waiting for the next large batch.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from application import commands as c
from application.balance_import import BalanceRow, InvalidRow
from application.service import BookOfBusiness, Receipt
from application.synthetic_bank import (
    FeedBalance,
    Operation,
    estimate_operations,
    generate,
    scale_of,
)
from domain.values import ReassignmentMode

Progress = Callable[[int, int], None]
BATCH_ROWS = 200_000  # feed rows per import: large, yet bounded in memory
PROGRESS_EVERY = 2_000  # operations between progress calls


class DemoLoadError(RuntimeError):
    """The generator produced something the application refused: a generator bug."""


def command_handlers(bank: BookOfBusiness) -> dict[type[c.Command], Callable[[Any], Receipt]]:
    """The use-case method of `bank` that carries out each command model."""
    return {
        c.RegisterManager: bank.register_manager, c.ChangeGrade: bank.change_grade,
        c.RecordDeparture: bank.record_departure, c.OnboardCustomer: bank.onboard_customer,
        c.OpenAccount: bank.open_account, c.CloseAccount: bank.close_account,
        c.CloseCustomer: bank.close_customer, c.GrantCredit: bank.grant_credit,
        c.CloseCredit: bank.close_credit, c.RecordNonDeposit: bank.record_non_deposit,
        c.ChangeStatus: bank.change_status, c.SignService: bank.sign_service,
        c.RecordCardSpending: bank.record_card_spending,
        c.RecordRepaymentDefault: bank.record_repayment_default, c.LogVisit: bank.log_visit,
        c.Assign: bank.assign, c.Reassign: bank.reassign,
        c.PublishRulebook: bank.publish_rulebook,
    }




class _Loader:
    """Applies operations one by one; holds feed rows back for large imports."""

    def __init__(self, bank: BookOfBusiness) -> None:
        self.bank = bank
        self.handlers = command_handlers(bank)
        # Held feed rows per customer (insertion-ordered, so batches are deterministic).
        self.held: dict[str, list[BalanceRow | InvalidRow]] = {}
        self.held_rows = 0
        self.held_actor: str | None = None
        self.rows_seen = 0
        self.counts: Counter[str] = Counter()

    def apply(self, operation: Operation) -> None:
        if isinstance(operation, FeedBalance):
            self._hold(operation)
            return
        if isinstance(operation, c.Reassign) and operation.mode is ReassignmentMode.HANDOVER:
            rows = self.held.pop(operation.customer_no, [])
            self.held_rows -= len(rows)
            self._import(rows)
            self.counts["handovers"] += 1
        elif isinstance(operation, c.Reassign):
            self.counts["full transfers"] += 1
        self.counts[type(operation).__name__] += 1
        self.handlers[type(operation)](operation)

    def _hold(self, row: FeedBalance) -> None:
        if row.actor != self.held_actor:
            self.flush()  # one import carries one actor: the migration and the feed stay apart
            self.held_actor = row.actor
        self.rows_seen += 1
        self.held.setdefault(row.customer_no, []).append(
            BalanceRow(self.rows_seen, row.customer_no, row.on, row.deposit_fen, row.loan_fen))
        self.held_rows += 1
        if self.held_rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        rows = [row for held in self.held.values() for row in held]
        self.held.clear()
        self.held_rows = 0
        self._import(rows)

    def _import(self, rows: list[BalanceRow | InvalidRow]) -> None:
        if not rows:
            return
        report = self.bank.import_balances(rows, actor=self.held_actor or "core-banking-feed")
        if report.invalid:
            first = "; ".join(f"row {i.row}: {i.code} {i.message}" for i in report.invalid[:3])
            raise DemoLoadError(f"{len(report.invalid)} feed rows refused: {first}")
        self.counts["balance rows"] += report.rows


def load_demo(bank: BookOfBusiness, *, scale: str, seed: int,
              progress: Progress | None = None) -> dict[str, Any]:
    """Apply the synthetic bank's year to `bank` (an empty store); return what was loaded."""
    plan = scale_of(scale)
    total = estimate_operations(plan)
    first_position = bank.max_position()
    started = time.perf_counter()
    loader = _Loader(bank)
    done = 0
    for operation in generate(plan, seed):
        loader.apply(operation)
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            total = max(total, done)
            progress(done, total)
    loader.flush()
    if progress is not None:
        progress(done, done)
    seconds = time.perf_counter() - started
    events = bank.max_position() - first_position
    counts = loader.counts
    return {
        "scale": plan.name, "seed": seed, "operations": done, "events written": events,
        "managers": counts["RegisterManager"], "customers": counts["OnboardCustomer"],
        "balance rows": counts["balance rows"], "visits": counts["LogVisit"],
        "handovers": counts["handovers"], "full transfers": counts["full transfers"],
        "departures": counts["RecordDeparture"], "seconds": round(seconds, 1),
        "events/s": round(events / seconds) if seconds else 0,
    }
