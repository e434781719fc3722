"""Plots of `rmbook bench` results for docs/performance.md.

    .venv/bin/pip install -e '.[plots]'
    .venv/bin/python -m bench.plot bench/results/*.json --out docs/img

Draws, per result file: ingest and rebuild rates against events stored
(does the cost stay linear as the store grows?), and the latency
distribution of the in-process queries and of the HTTP mix.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - an optional extra
        raise SystemExit("plots need matplotlib: pip install -e '.[plots]'") from None
    return plt


def rates(results: list[dict[str, Any]], out: Path) -> Path:
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for result in results:
        label = f"{result['backend']} {result['scale']}"
        ingest = result["ingest"].get("series", [])
        axes[0].plot([p["events_stored"] / 1e6 for p in ingest],
                     [p["events_per_s"] / 1e3 for p in ingest], marker=".", label=label)
        axes[0].axhline(result["ingest"]["raw_insert_per_s"] / 1e3, linestyle=":", linewidth=1,
                        color=axes[0].lines[-1].get_color())
        rebuild = _windows(result["rebuild"].get("series", []), "events_read")
        axes[1].plot([p["events_read"] / 1e6 for p in rebuild],
                     [p["events_per_s"] / 1e3 for p in rebuild], marker=".", label=label)
        axes[1].axhline(result["rebuild"]["raw_read_decode_per_s"] / 1e3, linestyle=":",
                        linewidth=1, color=axes[1].lines[-1].get_color())
    axes[0].set(title="ingest (nightly feed) — dotted: bare driver bulk insert",
                xlabel="feed events stored (millions)", ylabel="thousand events/s")
    axes[1].set(title="rebuild, in ≥ 1 s windows — dotted: bare read + decode",
                xlabel="events read (millions)", ylabel="thousand events/s")
    for ax in axes:
        ax.set_ylim(bottom=0)
    return _save(figure, axes, out / "rates.png", legend_size=8)


def _windows(series: list[dict[str, Any]], position: str,
             min_seconds: float = 1.0) -> list[dict[str, Any]]:
    """Slices merged until each spans `min_seconds`: a rebuild with the audit apart reports
    the lesser of two progresses, which moves in jumps (ADR 0018), and a slice of a few
    milliseconds would plot a jump as millions of events a second."""
    windows: list[tuple[int, int, float]] = []  # (end position, events, seconds)
    end, events, seconds = 0, 0, 0.0
    for point in series:
        step = point[position] - end
        end = point[position]
        events += step
        seconds += step / point["events_per_s"] if point["events_per_s"] else 0.0
        if seconds >= min_seconds:
            windows.append((end, events, seconds))
            events, seconds = 0, 0.0
    if events:  # a short last window joins the one before it
        if windows:
            _, before, took = windows.pop()
            events, seconds = events + before, seconds + took
        windows.append((end, events, seconds))
    return [{position: at, "events_per_s": n / s if s else 0.0} for at, n, s in windows]


def latencies(results: list[dict[str, Any]], out: Path) -> Path:
    plt = _pyplot()
    from matplotlib.ticker import NullFormatter, ScalarFormatter
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    # Queries: the largest scale only (four lines per result would crowd the plot).
    largest = "bank" if any(r["scale"] == "bank" for r in results) else results[0]["scale"]
    for result in results:
        label = f"{result['backend']} {result['scale']}"
        queries = result.get("query_samples_ms", {}) if result["scale"] == largest else {}
        for name, samples in queries.items():
            ordered = sorted(samples)
            axes[0].plot(ordered, [i / len(ordered) for i in range(len(ordered))],
                         label=f"{label}: {name}")
        http = result.get("http")
        if http and http.get("samples_ms"):
            ordered = sorted(http["samples_ms"])
            axes[1].plot(ordered, [i / len(ordered) for i in range(len(ordered))], label=label)
    axes[0].set(title="queries in process (cumulative)", xlabel="ms (log)", ylabel="share",
                xscale="log")
    axes[1].set(title="HTTP mix, 8 connections (cumulative)", xlabel="ms (log)",
                ylabel="share", xscale="log")
    for ax in axes:  # plain numbers: a log axis spanning under a decade labels its minor ticks
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    return _save(figure, axes, out / "latency.png", legend_size=6)


def _save(figure: Any, axes: Any, path: Path, legend_size: int) -> Path:
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=legend_size)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="bench result JSON files")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    results = [orjson.loads(p.read_bytes()) for p in args.results]
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (rates(results, args.out), latencies(results, args.out)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
