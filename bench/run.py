"""`rmbook bench`: ingest and rebuild, each beside baselines measured in the same run.

Machines here are shared and noisy, so the figure that counts is the ratio to
a baseline measured moments before on the same database (BENCHMARKS.md).
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from application import commands as c
from application.balance_import import CHUNK_EVENTS
from application.demo import command_handlers, load_demo
from application.service import BookOfBusiness
from application.settings import Settings
from application.synthetic_bank import FeedBalance, generate, scale_of
from bench import baselines
from domain.money import format_fen
from projections.rebuild import rebuild
from projections.runner import Projector

Say = Callable[[str], None]
PG_SERVER = os.environ.get("RMBOOK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def fresh_store(backend: str) -> Iterator[Settings]:
    """An empty store for one run: a temp SQLite file or a new PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rmbook-bench-") as folder:
            yield Settings(database_url=f"sqlite:///{folder}/bench.db")
        return
    import psycopg

    name = f"rmbook_bench_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(database_url=f"{PG_SERVER}/{name}")
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _csv(rows: list[FeedBalance]) -> bytes:
    lines = ["customer_no,on,deposit,loan"]
    lines += [f"{r.customer_no},{r.on.isoformat()},{format_fen(r.deposit_fen)},"
              f"{format_fen(r.loan_fen)}" for r in rows]
    return ("\n".join(lines) + "\n").encode()


def ingest(settings: Settings, scale: str, seed: int, say: Say) -> dict[str, Any]:
    """Set the bank up (untimed), then time the nightly feed, one file per business day."""
    bank = BookOfBusiness(settings)
    handlers = command_handlers(bank)
    feed: dict[date, list[FeedBalance]] = defaultdict(list)
    say("setting up managers and customers (untimed)")
    for operation in generate(scale_of(scale), seed):
        if isinstance(operation, FeedBalance):
            feed[operation.on].append(operation)
        elif isinstance(operation, (c.RegisterManager, c.OnboardCustomer)):
            handlers[type(operation)](operation)
    days = sorted(feed)
    files = [_csv(feed[day]) for day in days]
    rows = [(r.customer_no, r.on, r.deposit_fen, r.loan_fen) for day in days for r in feed[day]]
    say(f"importing {len(rows):,} feed rows as {len(files)} daily files")
    before = bank.max_position()
    started = time.perf_counter()
    recorded = 0
    for body in files:
        report = bank.import_balances(body, fmt="csv")
        if report.invalid:
            raise RuntimeError(f"bench feed refused: {report.invalid[:3]}")
        recorded += report.recorded + report.corrections
    elapsed = time.perf_counter() - started
    events = bank.max_position() - before
    again = bank.import_balances(files[len(files) // 2], fmt="csv")  # idempotency, untimed
    bank.close()
    say("baseline: bare driver bulk insert")
    raw = baselines.raw_insert(settings, events)
    say("baseline: plain eventsourcing Application")
    with fresh_store(settings.backend) as other:
        # Same transaction size as our import uses on this backend (see CHUNK_EVENTS).
        library = baselines.library_default(other, rows, batch=CHUNK_EVENTS[settings.backend])
    rate = events / elapsed
    return {
        "rows": len(rows), "files": len(files), "events": events, "seconds": round(elapsed, 2),
        "events_per_s": round(rate), "raw_insert_per_s": round(raw),
        "library_default_per_s": round(library),
        "ratio_to_raw_insert": round(rate / raw, 3),
        "ratio_to_library_default": round(rate / library, 2),
        "reimport_wrote_nothing": again.recorded == 0 and again.corrections == 0,
    }


def rebuild_all(settings: Settings, say: Say) -> dict[str, Any]:
    bank = BookOfBusiness(settings)
    projector = Projector(bank, batch_size=5000)
    events = bank.max_position()
    say(f"rebuilding every projection over {events:,} events")
    started = time.perf_counter()
    rebuild(projector)
    elapsed = time.perf_counter() - started
    rss = baselines.peak_rss_mib()
    table = bank.events_table
    projector.close()
    bank.close()
    say("baseline: bare driver read + JSON decode")
    _count, raw = baselines.raw_read_decode(settings, table)
    # Every projection reads the whole sequence once: the work is events × projections.
    rate = events / elapsed
    return {"events": events, "projections": 2, "seconds": round(elapsed, 2),
            "events_per_s": round(rate), "raw_read_decode_per_s": round(raw),
            "ratio_to_raw_read_decode": round(rate / raw, 3), "peak_rss_mib": round(rss)}


def _latency(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(ordered),
            "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


def queries(settings: Settings, say: Say, repeat: int = 200) -> dict[str, Any]:
    """p50/p99 of the read paths, in process and warm (after the rebuild)."""
    from projections.replay import audit_projection, book_reader
    from projections.reports.attribution import customer_attribution
    from projections.reports.tiers import branch_tiers, manager_book, manager_tier
    from projections.timelines import timeline

    bank = BookOfBusiness(settings)
    projector = Projector(bank)
    say(f"timing queries ({repeat} of each, warm)")
    results: dict[str, Any] = {}
    with book_reader(projector) as reader:
        customers = [d["no"] for d in reader.customers_in_branch(None)][:repeat]
        managers = [m["staff_no"] for m in reader.managers()]
        branches = reader.branches()
        span = reader.balance_span()
        start, end = span if span else (date(2025, 1, 1), date(2025, 12, 31))
        audit = audit_projection(projector)

        def timed(name: str, call: Callable[[int], Any]) -> None:
            call(0)  # warm
            samples = []
            for i in range(repeat):
                began = time.perf_counter()
                call(i)
                samples.append(time.perf_counter() - began)
            results[name] = _latency(samples)

        timed("customer_attribution_year", lambda i: customer_attribution(
            reader, customers[i % len(customers)], start, end))
        timed("manager_tier_and_book", lambda i: (
            manager_tier(reader, managers[i % len(managers)], end),
            manager_book(reader, managers[i % len(managers)], end)))
        timed("customer_timeline", lambda i: timeline(
            audit, f"customer:{customers[i % len(customers)]}", limit=100))
        timed("branch_tier_list", lambda i: branch_tiers(reader, branches[i % len(branches)], end))
    projector.close()
    bank.close()
    return results


def run(backend: str, scale: str, seed: int, say: Say) -> dict[str, Any]:
    with fresh_store(backend) as settings:
        result: dict[str, Any] = {
            "backend": backend, "scale": scale, "seed": seed,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "platform": platform.platform()},
        }
        result["ingest"] = ingest(settings, scale, seed, say)
    # Rebuild and queries run on the whole demo bank (custody, handovers, visits, a
    # mid-year rulebook), loaded through the real use cases; the load is reported too.
    with fresh_store(backend) as settings:
        say("loading the demo bank for rebuild and queries")
        bank = BookOfBusiness(settings)
        loaded = load_demo(bank, scale=scale, seed=seed)
        bank.close()
        result["demo_load"] = {"events": loaded["events written"], "seconds": loaded["seconds"],
                               "events_per_s": loaded["events/s"]}
        result["rebuild"] = rebuild_all(settings, say)
        result["queries"] = queries(settings, say)
    return result
