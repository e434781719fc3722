"""`rmbook`: the command line for operations, auditors and developers.

Every command works on the store named by RMBOOK_DATABASE_URL (default: the
embedded SQLite file ./rmbook.db). `rmbook COMMAND --help` explains each one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from application import gc_tuning
from application.commands import PublishRulebook
from application.service import BookOfBusiness
from application.settings import Settings, SettingsError
from domain.errors import Refusal
from interfaces.cli import render

HELP_MARKUP: Final = "markdown"

app = typer.Typer(
    name="rmbook",
    help=(
        "rmbook keeps a bank's book of business: which customer manager has custody of which "
        "customer, how business is credited, how managers are graded, and the full replayable "
        "history.\n\nThe store is chosen by RMBOOK_DATABASE_URL: sqlite:///path/file.db "
        "(default sqlite:///./rmbook.db) or postgresql://user@host:5432/db."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Markdown reflows a docstring's paragraphs to the terminal; "rich" keeps each source
    # line's break, so help wrapped at 100 columns in the code broke raggedly at 80.
    rich_markup_mode=HELP_MARKUP,
)


def command_group(help_text: str) -> typer.Typer:
    """A group of subcommands (`rmbook customer …`), its help in the root's markup."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=HELP_MARKUP)


customer_app = command_group("Look at one customer.")
manager_app = command_group("Look at one manager.")
rulebook_app = command_group("Publish and list rulebook versions.")
app.add_typer(customer_app, name="customer")
app.add_typer(manager_app, name="manager")
app.add_typer(rulebook_app, name="rulebook")

T = TypeVar("T")

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Business date YYYY-MM-DD: the state on that day (default today)."),
]
KnownAt = Annotated[
    str | None,
    typer.Option("--known-at", help="Recorded instant (ISO 8601, UTC if no offset): what the "
                 "store knew then. Combine with --as-of for bitemporal questions."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@app.callback()
def _process() -> None:
    gc_tuning.relax()  # every command: imports, rebuilds and servers make millions of objects


def _fail(message: str, code: int = 1) -> None:
    render.err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@contextmanager
def service(create: bool = False) -> Iterator[BookOfBusiness]:
    """Open the configured store; turn refusals into readable errors, not tracebacks.

    Only commands that load a store (`create`) may start one: SQLite would otherwise make
    an empty file wherever a mistyped URL points, and a read would answer "not found"."""
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        _fail(str(e), 2)
    missing = settings.sqlite_file()
    if not create and missing is not None and not missing.exists():
        _fail(f"no store at {missing}: set RMBOOK_DATABASE_URL to an existing store "
              "(make run's is sqlite:///./var/rmbook.db), or load one with `rmbook demo`", 2)
    try:
        bank = BookOfBusiness(settings)
    except SettingsError as e:
        _fail(str(e), 2)
    except Exception as e:
        _fail(f"cannot open the store: {e}", 2)
    try:
        yield bank
    except Refusal as e:
        field = f" (field: {e.field})" if e.field else ""
        _fail(f"{e.code}: {e}{field}")
    finally:
        bank.close()


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=not sys.stderr.isatty(),
                  console=render.err_console) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} must be a date YYYY-MM-DD, got {value!r}", 2)
    raise AssertionError  # pragma: no cover


def parse_instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--known-at must be an ISO 8601 instant, got {value!r}", 2)
        raise
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


# ---- demo and feeds ---------------------------------------------------------------


@app.command()
def demo(
    scale: Annotated[str, typer.Option(help="small (2 branches, 600 customers) or bank "
                                       "(20 branches, 20,000 customers, ≈3M events).")] = "small",
    seed: Annotated[int, typer.Option(help="Seed of the deterministic generator.")] = 42,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="Do nothing (successfully) when the store already holds events.")]
    = False,
) -> None:
    """Load the deterministic synthetic bank of BENCHMARKS.md into the configured store.

    The bank's year is 2025; the same seed always gives the same bank.
    """
    from application.demo import load_demo

    if scale not in ("small", "bank", "tiny"):
        _fail("--scale must be small or bank", 2)
    with service(create=True) as bank:
        if bank.max_position():
            if if_empty:
                render.console.print("the store already holds a bank; not loading the demo")
                return
            _fail("the store is not empty; point RMBOOK_DATABASE_URL at a fresh store", 1)
        with progress_bar(f"loading the {scale} demo bank") as update:
            stats = load_demo(bank, scale=scale, seed=seed, progress=update)
        render.key_values("demo bank loaded", list(stats.items()))


@app.command("import-balances")
def import_balances(
    file: Annotated[Path, typer.Argument(help="CSV or JSON-lines file: customer_no,on,deposit,"
                                         "loan (loan optional, amounts like 1234.56).")],
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Write the valid rows and report the invalid ones; without it an "
        "invalid file writes nothing.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or jsonl (default: guess).")]
    = None,
    as_json: AsJson = False,
) -> None:
    """Import the balance feed. Re-importing the same file writes nothing new."""
    if not file.exists():
        _fail(f"no such file: {file}", 2)
    with service(create=True) as bank, progress_bar("writing balances") as update:
        report = bank.import_balances(file.read_bytes(), fmt=fmt, skip_invalid=skip_invalid,
                                      progress=update)
    if as_json:
        render.print_json(report.as_dict())
    else:
        render.key_values("balance import", [
            ("rows", report.rows), ("recorded", report.recorded),
            ("unchanged", report.unchanged), ("corrections", report.corrections),
            ("invalid", len(report.invalid)), ("written", report.written),
            ("last position", report.position)])
        if report.invalid:
            render.rows("invalid rows", ["row", "code", "message"],
                        [[i.row, i.code, i.message] for i in report.invalid[:200]])
    if report.invalid and not skip_invalid:
        render.err_console.print("nothing was written: fix the rows above or use --skip-invalid")
        raise typer.Exit(1)


# ---- looking at things -----------------------------------------------------------


@customer_app.command("show")
def customer_show(no: Annotated[str, typer.Argument(help="customer_no")], as_of: AsOf = None,
                  known_at: KnownAt = None, as_json: AsJson = False) -> None:
    """A customer's state: custodian, credit, accounts, status, latest balances."""
    with service() as bank:
        view = bank.customer_view(no, parse_date(as_of, "--as-of"), parse_instant(known_at))
    if as_json:
        render.print_json(view)
        return
    custody = view.pop("custody")
    accounts = view.pop("accounts")
    view["deposit"] = render.amount(view.pop("deposit_fen"))
    view["loan"] = render.amount(view.pop("loan_fen"))
    render.key_values(f"customer {no}", list(view.items()))
    render.rows("accounts", ["account_no", "type", "currency", "opened_on", "closed_on"],
                [list(a.values()) for a in accounts])
    render.rows("custody chain", ["from", "mode", "custodian", "claim", "outgoing",
                                  "deposit ratio", "non-deposit ratio", "base daily avg"],
                [[t.effective_on, t.mode, t.custodian, render.ratio(t.claim_ratio), t.outgoing,
                  render.ratio(t.deposit_ratio), render.ratio(t.non_deposit_ratio),
                  render.amount(None) if t.base_daily_average is None
                  else render.format_exact_fen(t.base_daily_average)]
                 for t in custody["chain"]])


@customer_app.command("grant-vip")
def customer_grant_vip(
    no: Annotated[str, typer.Argument(help="customer_no (an individual)")],
    level: Annotated[str, typer.Option(help="branch or head_office")],
    approver: Annotated[str, typer.Option(help="Who approved the grant [S2 §7].")],
    reason: Annotated[str, typer.Option(help="Why (required) [S2 §7].")],
    on: Annotated[str | None, typer.Option(help="Business date (default today).")] = None,
    actor: Annotated[str, typer.Option(help="Who records it.")] = "ops",
) -> None:
    """Record a manual VIP grant: it lifts the customer to LEVEL from ON, never lowers."""
    from application.commands import GrantVip

    with service() as bank:
        day = parse_date(on, "--on") or bank.today()
        receipt = bank.grant_vip(GrantVip(customer_no=no, level=level, approver=approver, on=day,
                                          actor=actor, reason=reason))
    render.key_values("VIP grant recorded", [("customer", no), ("level", level),
                                             ("from", day), ("position", receipt.position)])


@manager_app.command("show")
def manager_show(staff_no: Annotated[str, typer.Argument(help="staff_no")], as_of: AsOf = None,
                 known_at: KnownAt = None, as_json: AsJson = False) -> None:
    """A manager's state: role, grade and band, departure, and the book of customers."""
    with service() as bank:
        view = bank.manager_view(staff_no, parse_date(as_of, "--as-of"),
                                 parse_instant(known_at))
    if as_json:
        render.print_json(view)
        return
    customers = view.pop("customers")
    view["customers in custody"] = len(customers)
    render.key_values(f"manager {staff_no}", list(view.items()))
    if customers:
        render.console.print("book: " + ", ".join(customers))


@app.command()
def summary(as_json: AsJson = False) -> None:
    """What the store holds: events, customers, managers, rulebooks."""
    from application.summary import summarize

    with service() as bank:
        stats = summarize(bank)
    if as_json:
        render.print_json(stats)
    else:
        render.key_values("rmbook store", list(stats.items()))


# ---- rulebooks ----------------------------------------------------------------------


@rulebook_app.command("publish")
def rulebook_publish(
    file: Annotated[Path, typer.Argument(help="Rulebook JSON (format of rulebook-2024.json).")],
    actor: Annotated[str, typer.Option(help="Who publishes it.")] = "ops",
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Publish a rulebook version; it applies from its effective_from date."""
    try:
        document: Any = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        _fail(f"cannot read {file}: {e}", 2)
    with service(create=True) as bank:
        receipt = bank.publish_rulebook(PublishRulebook(document=document, actor=actor,
                                                        reason=reason))
    render.key_values("rulebook published", [*receipt.result.items(),
                                              ("position", receipt.position)])


@rulebook_app.command("list")
def rulebook_list(as_json: AsJson = False) -> None:
    """Every rulebook version with its effective date."""
    with service() as bank:
        history = bank.rulebook_history()
    body = [[r.version, r.effective_from] for r in history.versions]
    if as_json:
        render.print_json([{"version": v, "effective_from": d} for v, d in body])
    else:
        render.rows("rulebooks", ["version", "effective_from"], body)


def main() -> None:  # pragma: no cover
    app()


# The read side's commands live in their own module; importing it registers them.
from interfaces.cli import (  # noqa: E402,F401
    bench,
    principals,
    read_side,
    serve,
)
