"""The synthetic year, loaded day by day; the nightly balance feed is the timed part.

Each business day's commands (onboarding, custody, visits, credit …) go through
their use cases untimed; then the day's end-of-day balances arrive as one CSV
file through `import_balances`, the project's real feed path (parse, validate
the whole file, idempotency, events stored) — that is what is timed. Running
the feed against a store that holds everything else is the production shape:
handover bases, closures and onboarding dates are all checked for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from application.demo import command_handlers
from application.service import BookOfBusiness
from application.synthetic_bank import FeedBalance, estimate_operations, generate, scale_of
from bench.child import rate_series
from domain.money import format_fen

Progress = Callable[[int, int], None]
FeedRow = tuple[str, Any, int, int]  # customer_no, on, deposit fen, loan fen


def feed_file(rows: list[FeedBalance]) -> bytes:
    """The core-banking system's end-of-day file (made untimed: it is the bank's, not ours)."""
    lines = ["customer_no,on,deposit,loan"]
    lines += [f"{r.customer_no},{r.on.isoformat()},{format_fen(r.deposit_fen)},"
              f"{format_fen(r.loan_fen)}" for r in rows]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Loaded:
    feed_rows: list[FeedRow] = field(default_factory=list)
    files: list[tuple[bytes, str]] = field(default_factory=list)  # (file, actor), kept for re-import
    feed_events: int = 0
    feed_seconds: float = 0.0
    commands: int = 0
    command_seconds: float = 0.0
    events: int = 0
    # (feed events stored so far, feed seconds so far) after each file: rate vs store size
    progress: list[tuple[int, float]] = field(default_factory=list)

    def series(self) -> list[dict[str, float]]:
        """Ingest rate over successive slices of the feed, against events stored."""
        return rate_series(self.progress, "events_stored")


def load_year(bank: BookOfBusiness, scale: str, seed: int,
              progress: Progress | None = None) -> Loaded:
    handlers = command_handlers(bank)
    loaded = Loaded()
    first = bank.max_position()
    held: list[FeedBalance] = []
    total = estimate_operations(scale_of(scale))
    done = 0

    def import_day() -> None:
        body, actor = feed_file(held), held[0].actor
        began = time.perf_counter()
        report = bank.import_balances(body, fmt="csv", actor=actor)
        loaded.feed_seconds += time.perf_counter() - began
        if report.invalid:
            raise RuntimeError(f"the synthetic feed was refused: {report.invalid[:3]}")
        loaded.feed_events += report.recorded + report.corrections
        loaded.progress.append((loaded.feed_events, loaded.feed_seconds))
        loaded.files.append((body, actor))
        loaded.feed_rows.extend((r.customer_no, r.on, r.deposit_fen, r.loan_fen) for r in held)
        held.clear()

    for operation in generate(scale_of(scale), seed):
        done += 1
        if progress is not None and done % 20_000 == 0:
            progress(done, max(total, done))
        if isinstance(operation, FeedBalance):
            held.append(operation)
            continue
        if held:
            import_day()
        began = time.perf_counter()
        handlers[type(operation)](operation)
        loaded.command_seconds += time.perf_counter() - began
        loaded.commands += 1
    if held:
        import_day()
    loaded.events = bank.max_position() - first
    if progress is not None:
        progress(done, done)
    return loaded
