"""Query latency in process, warm: the read paths the staff tools call most."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from application.service import BookOfBusiness
from application.settings import Settings
from projections.replay import audit_projection, book_reader
from projections.reports.attribution import customer_attribution
from projections.reports.tiers import branch_tiers, manager_book, manager_tier
from projections.runner import Projector
from projections.timelines import timeline


def latency(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {"n": len(ordered),
            "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


def measure(settings: Settings, repeat: int = 300) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """p50/p99 per query (and every sample, in ms, for the distribution plot)."""
    bank = BookOfBusiness(settings)
    projector = Projector(bank)
    results: dict[str, Any] = {}
    samples: dict[str, list[float]] = {}
    with book_reader(projector) as reader:
        customers = [d["no"] for d in reader.customers_in_branch(None)]
        customers = customers[:: max(1, len(customers) // repeat)][:repeat]
        managers = [m["staff_no"] for m in reader.managers()]
        branches = reader.branches()
        span = reader.balance_span()
        start, end = span if span else (date(2025, 1, 1), date(2025, 12, 31))
        start = max(start, date(end.year, 1, 1))  # one customer's year
        audit = audit_projection(projector)

        def timed(name: str, call: Callable[[int], Any]) -> None:
            for i in range(min(20, repeat)):  # warm: caches, prepared statements, pages
                call(i)
            taken = []
            for i in range(repeat):
                began = time.perf_counter()
                call(i)
                taken.append(time.perf_counter() - began)
            results[name] = latency(taken)
            samples[name] = [round(t * 1000, 3) for t in taken]

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
    return results, samples
