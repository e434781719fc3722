"""`rmbook bench` completes on a tiny bank and reports every field (never a time)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from interfaces.cli.main import app

FIELDS = {
    "ingest": {"rows", "files", "events", "seconds", "events_per_s", "raw_insert_per_s",
               "library_default_per_s", "ratio_to_raw_insert", "ratio_to_library_default",
               "reimport_wrote_nothing", "series", "profiled"},
    "commands": {"commands", "events", "seconds", "commands_per_s"},
    "rebuild": {"events", "projections", "seconds", "events_per_s", "raw_read_decode_per_s",
                "raw_read_decode_runs", "ratio_to_raw_read_decode", "peak_rss_mib",
                "peak_rss_children_mib",
                "first_projection_events_per_s", "first_projection_ratio",
                "first_projection_peak_rss_mib", "series"},
    "http": {"connections", "server_processes", "connections_by_process", "seconds_each",
             "trivial_requests_per_s",
             "trivial_p99_ms", "mix_requests_per_s", "ratio_to_trivial", "p50_ms", "p99_ms", "errors",
             "statuses", "failures", "by_kind", "read_p99_ms", "samples_ms",
             "trivial_reconnections", "reconnections"},
    "http_in_process": {"requests_each", "health_ms", "mix_ms", "ratio_to_health", "errors",
                        "by_kind"},
}
QUERIES = {"customer_attribution_year", "manager_tier_and_book", "customer_timeline",
           "branch_tier_list"}
HTTP_KINDS = {"customer_attribution_year", "manager_tier", "manager_book", "customer_timeline",
              "branch_tier_list", "visit_write", "balance_write"}


@pytest.mark.integration
def test_bench_smoke_run_reports_every_field(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["bench", "--backend", "sqlite", "--scale", "tiny",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = orjson.loads(out.read_bytes())
    assert (data["backend"], data["scale"]) == ("sqlite", "tiny")
    for part, fields in FIELDS.items():
        assert set(data[part]) == fields, part
    ingest, rebuild = data["ingest"], data["rebuild"]
    assert ingest["reimport_wrote_nothing"] is True
    assert ingest["profiled"] is False
    assert ingest["events"] == ingest["rows"] > 0
    # every stored event is projected: the feed, the day's commands and nothing else
    assert rebuild["events"] == ingest["events"] + data["commands"]["events"]
    for series, key in ((ingest["series"], "events_stored"), (rebuild["series"], "events_read")):
        marks = [point[key] for point in series]
        assert marks and marks == sorted(marks) and marks[-1] <= rebuild["events"]
    assert set(data["queries"]) == QUERIES
    for figures in data["queries"].values():
        assert figures["n"] > 0
        assert set(figures) == {"n", "p50_ms", "p99_ms"}
    http = data["http"]
    assert http["server_processes"] == 1  # SQLite: one process, whatever the cores (ADR 0023)
    assert http["connections_by_process"] == [http["connections"]]  # that process holds all
    assert http["reconnections"] == http["trivial_reconnections"] == 0  # its share is all
    assert set(http["by_kind"]) == HTTP_KINDS
    assert sum(http["statuses"].values()) == sum(k["n"] for k in http["by_kind"].values())
    asgi = data["http_in_process"]
    assert asgi["errors"] == 0 and asgi["ratio_to_health"] > 0
    assert set(asgi["by_kind"]) == HTTP_KINDS
    assert sum(k["n"] for k in asgi["by_kind"].values()) == asgi["requests_each"]
    for name in ("ingest", "rebuild", "queries", "http", "http in process"):
        assert name in result.output


def test_a_kept_run_keeps_only_the_loaded_store(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    # RMBOOK_BENCH_KEEP keeps the loaded store; a baseline's store is removed as usual,
    # so a kept run does not write a baseline's gigabyte back to disk while it measures.
    import tempfile

    from bench.store import fresh_store

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with fresh_store("sqlite", keep=True) as kept, fresh_store("sqlite") as baseline:
        for settings in (kept, baseline):
            Path(settings.eventsourcing_env()["SQLITE_DBNAME"]).write_bytes(b"")
    assert Path(kept.eventsourcing_env()["SQLITE_DBNAME"]).exists()
    assert not Path(baseline.eventsourcing_env()["SQLITE_DBNAME"]).exists()
