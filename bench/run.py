"""`rmbook bench`: ingest, projection, queries and HTTP, each beside a same-run baseline.

Machines here are shared and noisy, so the figure that counts is the ratio to a
baseline measured in the same run on the same database (BENCHMARKS.md). Where a
baseline is measured twice, the faster run is the one used: a ratio is never
flattered by a slow moment of the baseline.

One store carries the whole run: the synthetic year is loaded day by day (the
nightly feed timed, the day's commands not), then projected from nothing in a
process of its own, rebuilt in another, queried in process, and served over
HTTP to a client process.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from application.balance_import import CHUNK_EVENTS
from application.service import BookOfBusiness
from application.settings import Settings
from bench import baselines, http_in_process, http_load, projecting, queries
from bench.child import profiled
from bench.load import Loaded, load_year
from bench.store import KEEP, fresh_store
from projections.replay import book_reader
from projections.runner import Projector

Say = Callable[[str], None]
Progress = Callable[[str, int, int], None]
SERVER_TODAY = date(2026, 1, 31)  # a month after the synthetic year: writes dated in January
HTTP_SECONDS = {"tiny": 3.0, "small": 15.0, "bank": 20.0}
HTTP_IN_PROCESS_REQUESTS = {"tiny": 300, "small": 3000, "bank": 3000}


def ingest(settings: Settings, scale: str, seed: int, say: Say, progress: Progress,
           profile: Path | None) -> tuple[dict[str, Any], Loaded]:
    bank = BookOfBusiness(settings)
    say("loading the synthetic year day by day (the nightly feed is timed)")
    with profiled(profile):
        loaded = load_year(bank, scale, seed, lambda d, t: progress("load", d, t))
    middle, actor = loaded.files[len(loaded.files) // 2]
    again = bank.import_balances(middle, fmt="csv", actor=actor)  # idempotency, untimed
    bank.close()
    say("baseline: bare driver bulk insert")
    raw = baselines.raw_insert(settings, loaded.feed_events)
    say("baseline: plain eventsourcing Application")
    with fresh_store(settings.backend) as other:
        # The library's own pipelined insert deadlocks beyond a few thousand events on
        # PostgreSQL (ADR 0010), so the plain app gets the largest batch it can take.
        batch = min(CHUNK_EVENTS[settings.backend], baselines.LIBRARY_BATCH[settings.backend])
        library = baselines.library_default(other, loaded.feed_rows, batch=batch)
    rate = loaded.feed_events / loaded.feed_seconds
    return {
        "rows": len(loaded.feed_rows), "files": len(loaded.files), "events": loaded.feed_events,
        "seconds": round(loaded.feed_seconds, 2), "events_per_s": round(rate),
        "raw_insert_per_s": round(raw), "library_default_per_s": round(library),
        "ratio_to_raw_insert": round(rate / raw, 3),
        "ratio_to_library_default": round(rate / library, 2),
        "reimport_wrote_nothing": again.recorded == 0 and again.corrections == 0,
        "series": loaded.series(),
        # cProfile slows the load it watches: a profiled run is for where the time goes
        "profiled": profile is not None,
    }, loaded


def commands(loaded: Loaded) -> dict[str, Any]:
    return {"commands": loaded.commands, "events": loaded.events - loaded.feed_events,
            "seconds": round(loaded.command_seconds, 1),
            "commands_per_s": round(loaded.commands / loaded.command_seconds)
            if loaded.command_seconds else 0}


def project(settings: Settings, say: Say, profile: Path | None) -> dict[str, Any]:
    """Every projection built twice in processes of their own: from nothing, then rebuilt."""
    say("projecting the store from nothing (own process)")
    first = projecting.measure(settings.database_url, "project")
    if profile is not None:
        say("profiling a rebuild (own process, untimed)")
        profile.parent.mkdir(parents=True, exist_ok=True)
        projecting.measure(settings.database_url, "rebuild", str(profile))
    say("baseline: bare driver read + JSON decode")
    bank = BookOfBusiness(settings)
    table = bank.events_table
    bank.close()
    _count, raw_before = baselines.raw_read_decode(settings, table)
    say("rebuilding every projection side by side, with the diff (own process)")
    rebuilt = projecting.measure(settings.database_url, "rebuild")
    say("baseline: bare driver read + JSON decode, again")
    _count, raw_after = baselines.raw_read_decode(settings, table)
    raw = max(raw_before, raw_after)
    events = rebuilt["events"]
    rate = events / rebuilt["seconds"]
    first_rate = first["events"] / first["seconds"]
    return {
        "events": events, "projections": 2, "seconds": round(rebuilt["seconds"], 2),
        "events_per_s": round(rate), "raw_read_decode_per_s": round(raw),
        "raw_read_decode_runs": [round(raw_before), round(raw_after)],
        "ratio_to_raw_read_decode": round(rate / raw, 3),
        "peak_rss_mib": round(rebuilt["peak_rss_mib"]),
        "peak_rss_children_mib": round(rebuilt["peak_rss_children_mib"]),
        "first_projection_events_per_s": round(first_rate),
        "first_projection_ratio": round(first_rate / raw, 3),
        "first_projection_peak_rss_mib": round(first["peak_rss_mib"]),
        "series": projecting.series(rebuilt["marks"]),
    }


def subjects(settings: Settings) -> http_load.Subjects:
    bank = BookOfBusiness(settings)
    projector = Projector(bank)
    with book_reader(projector) as reader:
        docs = reader.customers_in_branch(None)
        open_customers = [(d["no"], d["chain"][-1]["custodian"]) for d in docs
                          if d["chain"] and not d.get("closed_on") and not d.get("ended_on")]
        managers = [m["staff_no"] for m in reader.managers()]
        branches = reader.branches()
        span = reader.balance_span()
    projector.close()
    bank.close()
    end = span[1] if span else date(2025, 12, 31)
    return http_load.Subjects(open_customers, managers, branches, date(end.year, 1, 1), end)


# The code a run measures; a change elsewhere (docs, tests, results) leaves it as committed.
_MEASURED = ("domain", "application", "projections", "interfaces", "bench",
             ":(exclude)bench/results")


def _commit() -> str | None:
    """The code measured: the checkout's commit, when there is one, with `+changes` when
    the measured packages differ from it (a run of uncommitted code is not the commit's)."""
    here = Path(__file__).parent
    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                               text=True, timeout=5, cwd=here, check=False)
        changed = subprocess.run(["git", "status", "--porcelain", "--", *_MEASURED],
                                 capture_output=True, text=True, timeout=5, cwd=here.parent,
                                 check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = found.stdout.strip()
    if not commit:
        return None
    return f"{commit}+changes" if changed.stdout.strip() else commit


def run(backend: str, scale: str, seed: int, say: Say, progress: Progress,
        profile_dir: Path | None = None, http: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {
        "backend": backend, "scale": scale, "seed": seed,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "commit": _commit(),
    }
    started = time.perf_counter()
    with fresh_store(backend, keep=KEEP) as settings:
        profile = profile_dir / f"{backend}-{scale}-ingest.txt" if profile_dir else None
        result["ingest"], loaded = ingest(settings, scale, seed, say, progress, profile)
        result["commands"] = commands(loaded)
        del loaded  # the feed rows and files: memory the rest of the run does not need
        result["rebuild"] = project(
            settings, say, profile_dir / f"{backend}-{scale}-rebuild.txt" if profile_dir else None)
        say("timing queries (in process, warm)")
        result["queries"], samples = queries.measure(settings)
        result["query_samples_ms"] = samples
        if http:
            say("serving over HTTP: trivial endpoint, then the mix (separate client process)")
            who = subjects(settings)
            result["http"] = http_load.measure(settings.database_url, who, SERVER_TODAY,
                                               HTTP_SECONDS.get(scale, 15.0))
            say("the served API's own cost per request, in process (ASGI, no sockets)")
            result["http_in_process"] = http_in_process.measure(
                settings.database_url, who, SERVER_TODAY,
                HTTP_IN_PROCESS_REQUESTS.get(scale, 3000))
    result["total_seconds"] = round(time.perf_counter() - started)
    return result
