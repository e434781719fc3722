"""CLI for projections: follow, rebuild, reports and audit (registered on the main app)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from application.service import BookOfBusiness
from domain.errors import NotFound
from interfaces.cli import render
from interfaces.cli.main import (
    AsJson,
    AsOf,
    KnownAt,
    _fail,
    app,
    command_group,
    parse_date,
    parse_instant,
    progress_bar,
    service,
)
from projections.integrity import verify
from projections.rebuild import rebuild as run_rebuild
from projections.replay import audit_projection, book_reader
from projections.reports import attribution as attribution_reports
from projections.reports import scorecard as scorecard_reports
from projections.reports import targets as target_reports
from projections.reports import tiers as tier_reports
from projections.reports import vip as vip_reports
from projections.reports import visits as visit_reports
from projections.runner import NAMES, Projector
from projections.timelines import timeline

report_app = command_group("Reports computed from the projections (tables, or --json).")
audit_app = command_group("For auditors: timelines, integrity, replay.")
app.add_typer(report_app, name="report")
app.add_typer(audit_app, name="audit")

From = Annotated[str, typer.Option("--from", help="First business date YYYY-MM-DD.")]
To = Annotated[str, typer.Option("--to", help="Last business date YYYY-MM-DD (inclusive).")]
Branch = Annotated[str | None, typer.Option(help="Branch code (default: every branch).")]
PeriodOpt = Annotated[str, typer.Option(
    "--period", help="2026-03 (month), 2026-Q1 (quarter), 2026-H1 (half-year) or 2026 (year).")]


@contextmanager
def projector() -> Iterator[Projector]:
    with service() as bank:
        read_side = Projector(bank)
        try:
            yield read_side
        finally:
            read_side.close()


def _date(value: str | None, option: str, default: date) -> date:
    return parse_date(value, option) or default


def _today(bank: BookOfBusiness) -> date:
    return bank.today()


def _show(data: Any, as_json: bool, title: str) -> None:
    if as_json:
        render.print_json(data)
    else:
        render.key_values(title, [(k, v) for k, v in data.items() if not isinstance(v, list)])


# ---- running projections ----------------------------------------------------------


@app.command()
def project(
    follow: Annotated[bool, typer.Option("--follow/--once", help="Keep following new events "
                                         "(a projection worker) or catch up once and exit.")]
    = False,
    poll: Annotated[float, typer.Option(help="Seconds between polls (PostgreSQL also wakes on "
                                        "LISTEN/NOTIFY).")] = 1.0,
) -> None:
    """Bring every projection up to date with the event store (or keep it so, --follow)."""
    with projector() as p:
        if follow:
            render.console.print("following the event sequence; Ctrl-C to stop")
            stop = threading.Event()
            try:
                p.run_forever(stop, poll)
            except KeyboardInterrupt:
                stop.set()
            return
        with progress_bar("projecting") as update:
            p.catch_up_all(progress=update)
        _print_status(p, False)


def _print_status(p: Projector, as_json: bool) -> None:
    rows = [s.as_dict() for s in p.status()]
    if as_json:
        render.print_json(rows)
        return
    render.rows("projections", ["name", "generation", "status", "position", "lag",
                                "rulebook", "pending rulebooks", "updated"],
                [[r["name"], r["generation"], r["status"], r["position"], r["lag"],
                  r["rulebook_version"], ", ".join(r["pending_rulebooks"]), r["updated_at"]]
                 for r in rows])


@app.command()
def projections(as_json: AsJson = False) -> None:
    """Each projection: generation, status, position, lag and the rulebook it follows."""
    with projector() as p:
        p.ensure()
        _print_status(p, as_json)


@app.command()
def rebuild(
    projection: Annotated[str | None, typer.Option(
        help=f"One of {', '.join(NAMES)} (default: all).")] = None,
    rulebook: Annotated[str | None, typer.Option(
        help="A what-if rulebook: a JSON file, or the version of a published one. The new "
        "generation is built and diffed against the serving one but not switched in.")] = None,
    diff: Annotated[bool, typer.Option("--diff", help="Print the diff (tier changes and "
                                       "attribution moved) even when it is long.")] = False,
    as_json: AsJson = False,
) -> None:
    """Rebuild projections from position zero, side by side; switch atomically when done.

    Run this after publishing a rulebook: the diff says which managers change tier (from → to,
    on which dates) and whose attribution moves, and by how much. A long rebuild of every
    projection on a machine with two cores builds the audit in a second process (ADR 0018);
    on PostgreSQL it also copies the book's balances in two parts at once (ADR 0022). On
    PostgreSQL the book's balances view is built without its key and keyed in one sort when
    the copy is done (ADR 0031).
    """
    with projector() as p:
        what_if = None
        if rulebook is not None:
            path = Path(rulebook)
            if path.exists():
                what_if = orjson.loads(path.read_bytes())
            else:
                found = p.bank.rulebook_history().by_version(rulebook)
                if found is None:
                    _fail(f"--rulebook {rulebook!r} is neither a file nor a published version", 2)
                    return
                what_if = dict(found.document)
                what_if["version"] = f"{found.version}-what-if"
        with progress_bar("rebuilding") as update:
            report = run_rebuild(p, [projection] if projection else None, what_if=what_if,
                                 progress=update)
    data = report.as_dict()
    if as_json:
        render.print_json(data)
        return
    render.key_values("rebuild", [(k, v) for k, v in data.items() if k != "diff"])
    if report.diff is not None:
        tiers = report.diff["tiers"]
        shown = tiers if diff else tiers[:30]
        render.rows(f"managers whose tier changes ({len(tiers)})",
                    ["staff_no", "from tier", "to tier", "from", "until"],
                    [[t["staff_no"], c["from_tier"], c["to_tier"], c["from"], c["until"]]
                     for t in shown for c in t["changes"]])
        moved = report.diff["attribution"]
        render.rows(f"attribution moved ({len(moved)} parties)",
                    ["party", "from", "to", "daily average change"],
                    [[m["party"], m["from"], m["to"], m["daily_average_change"]]
                     for m in (moved if diff else moved[:30])])


# ---- reports ------------------------------------------------------------------------


@report_app.command("tiers")
def report_tiers(branch: Branch = None, as_of: AsOf = None, known_at: KnownAt = None,
                 as_json: AsJson = False) -> None:
    """Each customer manager's tier and credit-customer count, and the distribution."""
    with projector() as p, book_reader(p, parse_instant(known_at)) as reader:
        data = tier_reports.branch_tiers(reader, branch, _date(as_of, "--as-of", _today(p.bank)))
    if as_json:
        render.print_json(data)
        return
    render.rows(f"tiers as of {data['as_of']} (rulebook {data['rulebook_version']})",
                ["staff_no", "tier", "credit customers", "departed"],
                [[m["staff_no"], m["tier"], m["credit_customers"], m["departed"]]
                 for m in data["managers"]])
    render.key_values("distribution", list(data["distribution"].items()))


@report_app.command("tier")
def report_tier(staff_no: str, as_of: AsOf = None, known_at: KnownAt = None,
                as_json: AsJson = False) -> None:
    """One manager's tier on a date, with its history as date ranges."""
    with projector() as p, book_reader(p, parse_instant(known_at)) as reader:
        data = tier_reports.manager_tier(reader, staff_no, _date(as_of, "--as-of", _today(p.bank)))
        history = tier_reports.tier_history(reader, staff_no)
        if data is None:  # inside service(), which renders refusals without a traceback
            raise NotFound(f"manager {staff_no} not found", field="staff_no")
    if as_json:
        render.print_json({**data, "history": history})
        return
    _show(data, False, f"tier of {staff_no}")
    render.rows("history", ["from", "until", "tier", "credit customers", "rulebook"],
                [list(h.values()) for h in history or []])


@report_app.command("attribution")
def report_attribution(
    customer: Annotated[str | None, typer.Option(help="customer_no")] = None,
    manager: Annotated[str | None, typer.Option(help="staff_no")] = None,
    branch: Annotated[str | None, typer.Option(help="branch code: the branch's whole book")]
    = None,
    start: From = "", end: To = "", known_at: KnownAt = None, as_json: AsJson = False,
) -> None:
    """Balance-days and daily averages credited to each party over a date range (DOMAIN §5).

    --customer: one customer's split; --manager: what a manager is credited, per customer;
    --branch: the branch's book, split between the branch's retained share and each manager.
    """
    if sum(bool(x) for x in (customer, manager, branch)) != 1:
        _fail("give exactly one of --customer, --manager or --branch", 2)
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if first is None or last is None or last < first:
        _fail("--from and --to are required, with --from ≤ --to", 2)
        return
    with projector() as p, book_reader(p, parse_instant(known_at)) as reader:
        if customer:
            data = attribution_reports.customer_attribution(reader, customer, first, last)
        elif branch:
            data = attribution_reports.branch_attribution(reader, branch, first, last)
        else:
            data = attribution_reports.manager_attribution(reader, manager or "", first, last)
        if data is None:  # inside service(), which renders refusals without a traceback
            what = "customer" if customer else "branch" if branch else "manager"
            raise NotFound(f"{what} {customer or branch or manager} not found", field=what)
    if as_json:
        render.print_json(data)
        return
    _show(data, False, f"attribution {first} … {last}")
    if customer or branch:
        render.rows("parties", ["party", "daily average", "balance-days"],
                    [[r["party"], r["daily_average"], r["balance_days"]] for r in data["parties"]])
    if customer:
        render.rows("non-deposit business", ["party", "amount"],
                    [[r["party"], r["amount"]] for r in data["non_deposit"]])
    if manager:
        render.rows("customers", ["customer_no", "daily average", "balance-days"],
                    [[r["customer_no"], r["daily_average"], r["balance_days"]]
                     for r in data["customers"]])


@report_app.command("visits")
def report_visits(period: PeriodOpt, branch: Branch = None, known_at: KnownAt = None,
                  as_json: AsJson = False) -> None:
    """Visit compliance per manager for a period [S0 §14, S4 §11(2)].

    A customer is due once per cadence period (monthly, quarterly, half-yearly, by the rulebook
    in force) lying inside --period; a unit is compliant when the custodian on its last day
    visited in it. Overdue customers are judged as of the period's end or today, whichever is
    earlier. Customers of a departed manager are flagged as needing reassignment.
    """
    with projector() as p:
        visit_reports.reporting_period(period, _today(p.bank))  # refuse a bad period early
        with book_reader(p, parse_instant(known_at)) as reader:
            data = visit_reports.visit_compliance(reader, branch, period, _today(p.bank))
    if as_json:
        render.print_json(data)
        return
    rows = data["managers"]
    render.rows(f"visit compliance {data['period']} ({data['branch'] or 'all branches'}; "
                f"rulebook {', '.join(data['rulebook_versions'])})",
                ["staff_no", "name", "due", "compliant", "rate", "overdue", "needs reassignment"],
                [[r["staff_no"], r["name"], r["due"], r["compliant"], r["rate"],
                  len(r["overdue"]), len(r["needs_reassignment"])] for r in rows])
    render.rows(f"overdue customers as of {data['overdue_as_of']}",
                ["staff_no", "customer_no", "cadence", "missed", "last visit",
                 "needs reassignment"],
                [[r["staff_no"], o["customer_no"], o["cadence"], o["missed"], o["last_visit"],
                  o["needs_reassignment"]] for r in rows for o in r["overdue"]])
    render.rows("needs reassignment (custodian departed)", ["staff_no", "customer_no"],
                [[r["staff_no"], no] for r in rows for no in r["needs_reassignment"]])
    render.key_values("total", [("due", data["due"]), ("compliant", data["compliant"]),
                                ("rate", data["rate"])])


def _status(figures: dict[str, Any]) -> str:
    """A period still running that has not met its target is "open", not "missed"."""
    return "met" if figures["met"] else "missed" if figures["missed"] else "open"


@report_app.command("targets")
def report_targets(
    branch: Annotated[str, typer.Option(help="Branch code.")],
    start: From, end: To, known_at: KnownAt = None, as_json: AsJson = False,
) -> None:
    """A branch's account-opening targets [S0 §13(二)(2)] per ISO week and month.

    Counts the corporate settlement accounts opened (target 1 a week, 4 a month) and the basic
    accounts opened (2 a month), every week and month overlapping --from … --to taken whole.
    A period still running is "open": not yet met is not yet missed.
    """
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if first is None or last is None or last < first:
        _fail("--from and --to are required, with --from ≤ --to", 2)
        return
    with projector() as p, book_reader(p, parse_instant(known_at)) as reader:
        data = target_reports.branch_targets(reader, branch, first, last, _today(p.bank))
        if data is None:
            raise NotFound(f"branch {branch} not found", field="branch")
    if as_json:
        render.print_json(data)
        return
    render.rows(f"branch {branch}: new corporate settlement accounts per ISO week",
                ["week", "from", "to", "opened", "target", "status", "rulebook"],
                [[w["key"], w["from"], w["to"], w["settlement"]["count"],
                  w["settlement"]["target"], _status(w["settlement"]),
                  w["rulebook_version"]] for w in data["weeks"]])
    render.rows(f"branch {branch}: per month",
                ["month", "opened", "target", "status", "basic opened", "basic target",
                 "basic status", "rulebook"],
                [[m["key"], m["settlement"]["count"], m["settlement"]["target"],
                  _status(m["settlement"]), m["basic"]["count"],
                  m["basic"]["target"], _status(m["basic"]),
                  m["rulebook_version"]] for m in data["months"]])


@report_app.command("vip")
def report_vip(branch: Branch = None, as_of: AsOf = None, known_at: KnownAt = None,
               as_json: AsJson = False) -> None:
    """VIP individual customers on a date [S2 §6–8], with their level and the criterion met.

    head_office when any of: mean monthly daily-average deposit over the last 12 complete
    months, loan balance with no repayment default in 12 months, or 12 months' card spending
    reaches the head-office threshold; else branch by the branch's own thresholds.
    """
    with projector() as p, book_reader(p, parse_instant(known_at)) as reader:
        data = vip_reports.vip_customers(reader, branch,
                                         _date(as_of, "--as-of", _today(p.bank)))
    if as_json:
        render.print_json(data)
        return
    render.rows(f"VIP customers as of {data['as_of']} (rulebook {data['rulebook_version']})",
                ["customer_no", "name", "branch", "level", "criterion", "avg monthly deposit",
                 "loan balance", "card spending 12m", "custodian"],
                [[r["customer_no"], r["name"], r["branch"], r["level"], r["criterion"],
                  r["avg_monthly_deposit"], r["loan_balance"], r["card_spending_12m"],
                  r["custodian"]] for r in data["customers"]])
    render.key_values("counts", list(data["counts"].items()))


@report_app.command("scorecard")
def report_scorecard(staff_no: Annotated[str, typer.Argument(help="staff_no")],
                     period: PeriodOpt, known_at: KnownAt = None,
                     as_json: AsJson = False) -> None:
    """One manager's scorecard for a period [S0 §16].

    Business expansion (new accounts, new basic accounts, new USD settlement accounts);
    customer maintenance (dormant→normal, normal→dormant, closures and closure rate,
    attributed new deposits against the previous period, new payroll and e-banking signings);
    work quality (visit compliance). Only what happened while the customer was in the
    manager's custody counts.
    """
    with projector() as p:
        visit_reports.reporting_period(period, _today(p.bank))  # refuse a bad period early
        with book_reader(p, parse_instant(known_at)) as reader:
            data = scorecard_reports.scorecard(reader, staff_no, period, _today(p.bank))
    if as_json:
        render.print_json(data)
        return
    render.key_values(f"scorecard of {staff_no} for {data['period']}",
                      [(k, data[k]) for k in ("name", "branch", "role", "departed_on", "from",
                                              "to", "measured_to", "rulebook_version")])
    render.key_values("business expansion",
                      [(k, v) for k, v in data["business_expansion"].items()
                       if not isinstance(v, list)])
    render.key_values("customer maintenance",
                      [(k, v) for k, v in data["customer_maintenance"].items()
                       if not isinstance(v, list)])
    quality = data["work_quality"]
    render.key_values("work quality",
                      [(k, quality[k]) for k in ("visits_due", "visits_compliant",
                                                 "visit_compliance_rate")]
                      + [("overdue customers", len(quality["overdue"])),
                         ("needs reassignment", len(quality["needs_reassignment"]))])


# ---- audit --------------------------------------------------------------------------


@audit_app.command("timeline")
def audit_timeline(
    subject: Annotated[str, typer.Argument(help="customer:NO, manager:STAFF_NO or branch:CODE")],
    known_at: KnownAt = None,
    after: Annotated[int, typer.Option(help="Show events after this position (paging).")] = 0,
    limit: Annotated[int, typer.Option(help="Events per page.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Every event about a customer, manager or branch, in order, with who, when and why."""
    if ":" not in subject:
        _fail("subject is customer:NO, manager:STAFF_NO or branch:CODE", 2)
    with projector() as p:
        data = timeline(audit_projection(p), subject, known_at=parse_instant(known_at),
                        after=after, limit=limit)
    if as_json:
        render.print_json(data)
        return
    render.rows(f"timeline of {subject}", ["position", "recorded", "business date", "type",
                                           "actor", "rulebook", "summary", "reason"],
                [[e["position"], e["recorded_at"][:19], e["effective_on"], e["type"], e["actor"],
                  e["rulebook_version"], e["summary"], e["reason"]] for e in data["events"]])
    if data["next_after"]:
        render.console.print(f"more: --after {data['next_after']}")


@audit_app.command("verify")
def audit_verify(as_json: AsJson = False) -> None:
    """Check stored history against the hash chain; name the first position that differs."""
    with projector() as p:
        audit = audit_projection(p)
        result = verify(audit)
    if as_json:
        render.print_json(result.as_dict())
    else:
        render.key_values("integrity", list(result.as_dict().items()))
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("replay")
def audit_replay(
    report: Annotated[str, typer.Argument(help="tiers | attribution")],
    known_at: Annotated[str, typer.Option("--known-at", help="The past instant (ISO 8601).")],
    branch: Branch = None, as_of: AsOf = None,
    customer: Annotated[str | None, typer.Option(help="customer_no (attribution)")] = None,
    start: Annotated[str | None, typer.Option("--from")] = None,
    end: Annotated[str | None, typer.Option("--to")] = None,
) -> None:
    """Reproduce a report exactly as it stood at a past instant (rebuilt from what was known)."""
    if report == "tiers":
        report_tiers(branch=branch, as_of=as_of, known_at=known_at, as_json=True)
    elif report == "attribution":
        report_attribution(customer=customer, manager=None, start=start or "", end=end or "",
                           known_at=known_at, as_json=True)
    else:
        _fail("replay supports: tiers, attribution", 2)
