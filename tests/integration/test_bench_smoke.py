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
               "reimport_wrote_nothing"},
    "demo_load": {"events", "seconds", "events_per_s"},
    "rebuild": {"events", "projections", "seconds", "events_per_s", "raw_read_decode_per_s",
                "ratio_to_raw_read_decode", "peak_rss_mib"},
}
QUERIES = {"customer_attribution_year", "manager_tier_and_book", "customer_timeline",
           "branch_tier_list"}


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
    assert data["ingest"]["reimport_wrote_nothing"] is True
    assert data["ingest"]["events"] == data["ingest"]["rows"] > 0
    assert set(data["queries"]) == QUERIES
    for figures in data["queries"].values():
        assert figures["n"] > 0
        assert set(figures) == {"n", "p50_ms", "p99_ms"}
    for name in ("ingest", "rebuild", "queries"):
        assert name in result.output
