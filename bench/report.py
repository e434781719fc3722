"""The targets of the benchmark issue, checked against `rmbook bench` results.

    .venv/bin/python -m bench.report bench/results/*.json

Prints a markdown table per result — each target, the measured figure, met or
not and by how much — plus the growth check (bank against small, per backend)
for docs/performance.md. With `--runs`, one line per run instead, oldest first:
its baselines, which show how fast the VM ran that day, beside its ratios.
Nothing here measures: it reads the JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

Result = dict[str, Any]


@dataclass(frozen=True)
class Target:
    name: str
    figure: Callable[[Result], float | None]
    bound: float
    at_least: bool  # True: figure ≥ bound; False: figure < bound
    unit: str = ""


def _q(name: str) -> Callable[[Result], float | None]:
    return lambda r: r["queries"][name]["p99_ms"]


def _http(key: str) -> Callable[[Result], float | None]:
    return lambda r: r["http"][key] if r.get("http") else None


RAW_INGEST_TARGET = {"sqlite": 0.40, "postgres": 0.25}


def targets(backend: str) -> list[Target]:
    return [
        Target("ingest / bare driver bulk insert", lambda r: r["ingest"]["ratio_to_raw_insert"],
               RAW_INGEST_TARGET[backend], True, "×"),
        Target("ingest / plain eventsourcing app",
               lambda r: r["ingest"]["ratio_to_library_default"], 5.0, True, "×"),
        Target("rebuild / bare read + decode", lambda r: r["rebuild"]["ratio_to_raw_read_decode"],
               0.60, True, "×"),
        Target("rebuild peak RSS", lambda r: r["rebuild"]["peak_rss_mib"], 1024, False, " MiB"),
        Target("customer's year of attribution p99", _q("customer_attribution_year"), 5, False,
               " ms"),
        Target("manager's tier and book p99", _q("manager_tier_and_book"), 10, False, " ms"),
        Target("branch's tier list p99", _q("branch_tier_list"), 50, False, " ms"),
        Target("HTTP mix / trivial endpoint", _http("ratio_to_trivial"), 0.5, True, "×"),
        Target("HTTP mix p99", _http("p99_ms"), 50, False, " ms"),
        Target("HTTP errors", _http("errors"), 1, False),
    ]


def _verdict(target: Target, value: float | None) -> str:
    if value is None:
        return "not measured"
    met = value >= target.bound if target.at_least else value < target.bound
    if met:
        return "met"
    if target.name == "HTTP errors":
        return f"not met ({value:g} errors)"
    if target.at_least:
        share = value / target.bound  # a near miss keeps a decimal: "100 %" would read as met
        return f"not met: {share:.1%} of the target" if share >= 0.995 else \
            f"not met: {share:.0%} of the target"
    return f"not met: {value / target.bound:.1f}× the bound"


def table(result: Result) -> str:
    lines = [f"| {result['backend']}, {result['scale']} | measured | target | verdict |",
             "|---|---|---|---|"]
    for target in targets(result["backend"]):
        value = target.figure(result)
        bound = ("≥ " if target.at_least else "< ") + f"{target.bound:g}{target.unit}"
        shown = "—" if value is None else f"{value:g}{target.unit}"
        lines.append(f"| {target.name} | {shown} | {bound} | {_verdict(target, value)} |")
    return "\n".join(lines)


def combined(results: list[Result], scale: str = "bank") -> str:
    """One row per target, one column per backend at `scale` (docs/performance.md)."""
    chosen = [r for r in results if r["scale"] == scale]
    lines = ["| target | " + " | ".join(r["backend"] for r in chosen) + " |",
             "|---|" + "---|" * len(chosen)]
    for i, target in enumerate(targets("sqlite")):
        bound = ("≥ " if target.at_least else "< ") + f"{target.bound:g}{target.unit}"
        if i == 0:  # the raw-insert bound differs per backend
            bound = " / ".join(f"{b}: ≥ {RAW_INGEST_TARGET[b]:g}×" for b in
                               (r["backend"] for r in chosen))
        cells = []
        for result in chosen:
            mine = targets(result["backend"])[i]
            value = mine.figure(result)
            shown = "—" if value is None else f"{value:g}{mine.unit}"
            cells.append(f"{shown} — {_verdict(mine, value)}")
        lines.append(f"| {target.name} ({bound}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(results: list[Result]) -> str:
    """Bank-scale rates against small-scale ones, per backend (within 20 % is the target)."""
    lines = ["| backend | figure | small | bank | bank / small | verdict |",
             "|---|---|---|---|---|---|"]
    by = {(r["backend"], r["scale"]): r for r in results}
    for backend in ("sqlite", "postgres"):
        small, bank = by.get((backend, "small")), by.get((backend, "bank"))
        if small is None or bank is None:
            continue
        for part in ("ingest", "rebuild"):
            ratio = bank[part]["events_per_s"] / small[part]["events_per_s"]
            lines.append(f"| {backend} | {part} events/s | {small[part]['events_per_s']:,} | "
                         f"{bank[part]['events_per_s']:,} | {ratio:.2f} | "
                         f"{'met' if ratio >= 0.8 else 'not met'} |")
            base = "raw_insert_per_s" if part == "ingest" else "raw_read_decode_per_s"
            ratio = bank[part][base] / small[part][base]
            lines.append(f"| {backend} | its baseline ({base}) | {small[part][base]:,} | "
                         f"{bank[part][base]:,} | {ratio:.2f} | (the database's own) |")
    return "\n".join(lines)


def _get(result: Result, part: str, key: str) -> Any:
    return (result.get(part) or {}).get(key)


def _cell(value: Any, form: str = ",") -> str:
    return "—" if value is None else format(value, form)


def _when(result: Result) -> datetime:
    """The run's start in UTC (runs record an offset; one without is taken as UTC)."""
    found = datetime.fromisoformat(result["date"])
    return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)


def runs(results: list[Result]) -> str:
    """Every run, oldest first: the baselines (the VM's pace) beside the ratios they set.

    Two runs of the same code can differ by half in absolute rates on this shared VM; the
    baselines say which runs were made on a fast or slow day, so a ratio that moved can be
    told from a VM that did."""
    lines = ["| date (UTC) | commit | backend, scale | bare insert/s | plain app/s | "
             "read + decode/s | trivial req/s | ingest / bare | rebuild / read + decode | "
             "HTTP mix p99 ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for started, r in sorted(((_when(r), r) for r in results), key=lambda pair: pair[0]):
        when = started.strftime("%Y-%m-%d %H:%M")
        lines.append(
            f"| {when} | {r.get('commit') or '—'} | {r['backend']}, {r['scale']} | "
            f"{_cell(_get(r, 'ingest', 'raw_insert_per_s'))} | "
            f"{_cell(_get(r, 'ingest', 'library_default_per_s'))} | "
            f"{_cell(_get(r, 'rebuild', 'raw_read_decode_per_s'))} | "
            f"{_cell(_get(r, 'http', 'trivial_requests_per_s'))} | "
            f"{_cell(_get(r, 'ingest', 'ratio_to_raw_insert'), 'g')} | "
            f"{_cell(_get(r, 'rebuild', 'ratio_to_raw_read_decode'), 'g')} | "
            f"{_cell(_get(r, 'http', 'p99_ms'), 'g')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="bench result JSON files")
    parser.add_argument("--runs", action="store_true",
                        help="one line per run, oldest first: its baselines and ratios")
    args = parser.parse_args()
    results = [orjson.loads(p.read_bytes()) for p in args.results]
    if args.runs:
        print(runs(results))
        return
    for result in results:
        print(table(result), end="\n\n")
    if sum(1 for r in results if r["scale"] == "bank") > 1:
        print(combined(results), end="\n\n")
    print(growth(results))


if __name__ == "__main__":
    main()
