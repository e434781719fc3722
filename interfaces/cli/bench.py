"""`rmbook bench`: the benchmark of BENCHMARKS.md (registered on the main app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from interfaces.cli import render
from interfaces.cli.main import _fail, app, progress_bar


@app.command()
def bench(
    backend: Annotated[str, typer.Option(help="sqlite or postgres (a fresh database is created "
                                         "and dropped; RMBOOK_BENCH_POSTGRES_URL names the "
                                         "server, default postgresql://postgres@127.0.0.1:5432)."
                                         )] = "sqlite",
    scale: Annotated[str, typer.Option(help="small (600 customers, ~80k events, a few "
                                       "minutes) or bank (20,000 customers, ~3.3M events, "
                                       "about half an hour); see BENCHMARKS.md.")] = "small",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic bank.")] = 42,
    out: Annotated[Path | None, typer.Option(help="Write the JSON result here (e.g. "
                                             "bench/results/sqlite-bank.json).")] = None,
    profile: Annotated[Path | None, typer.Option(
        help="Also write cProfile summaries into this folder: of the load itself (its "
        "figures then carry the profiler's overhead and say `profiled`) and of an extra, "
        "untimed rebuild.")] = None,
    http: Annotated[bool, typer.Option(help="Measure the served API (--no-http skips it).")]
    = True,
) -> None:
    """Measure ingest, projection, queries and HTTP, each beside a baseline measured in the same
    run on the same database (BENCHMARKS.md). Figures that count are the ratios."""
    from bench.run import run

    if backend not in ("sqlite", "postgres") or scale not in ("small", "bank", "tiny"):
        _fail("--backend is sqlite or postgres; --scale is small or bank", 2)
    with progress_bar("bench") as update:

        def progress(_stage: str, done: int, total: int) -> None:
            update(done, total)

        try:
            result = run(backend, scale, seed, lambda text: render.err_console.print(f"… {text}"),
                         progress, profile_dir=profile, http=http)
        except Exception as e:  # a failed run says what failed, and writes no result
            _fail(f"bench failed: {type(e).__name__}: {e}")
            return
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    show(result)


_HIDDEN = {"series", "samples_ms", "by_kind", "statuses", "failures"}


def _pairs(part: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in part.items() if k not in _HIDDEN]


def show(result: dict[str, Any]) -> None:
    where = f"{result['backend']}, {result['scale']}"
    for part in ("ingest", "commands", "rebuild"):
        render.key_values(f"{part} ({where})", _pairs(result[part]))
    render.rows(f"queries ({where}, in process, warm)", ["query", "n", "p50 ms", "p99 ms"],
                [[name, q["n"], q["p50_ms"], q["p99_ms"]]
                 for name, q in result["queries"].items()])
    http = result.get("http")
    if http:
        render.key_values(f"http ({where}, {http['connections']} connections)", _pairs(http))
        for failure in http.get("failures", []):
            render.err_console.print(f"http error: {failure}")
        render.rows(f"http by request ({where})", ["request", "n", "p50 ms", "p99 ms"],
                    [[kind, q["n"], q["p50_ms"], q["p99_ms"]]
                     for kind, q in http["by_kind"].items()])
    asgi = result.get("http_in_process")
    if asgi:
        render.key_values(f"http in process ({where}, ASGI, no sockets, one at a time)",
                          _pairs(asgi))
        render.rows(f"http in process by request ({where})", ["request", "n", "mean ms",
                                                               "p50 ms"],
                    [[kind, q["n"], q["mean_ms"], q["p50_ms"]]
                     for kind, q in asgi["by_kind"].items()])
    render.key_values("run", [("total_seconds", result.get("total_seconds")),
                              ("date", result["date"]), *result["machine"].items()])
