"""Balances copied from the event store into the book's view by the database (ADR 0016).

Ten events in eleven are end-of-day balances, and the book keeps each as
a row: customer, day, deposit, loan — a copy of the fact, no rule applied. In
a long catch-up (a rebuild, a first projection, a worker far behind) these
rows are not decoded in Python: one `INSERT … SELECT` per write reads them
from the event table, takes the three values out of the stored JSON (on
PostgreSQL read where the codec's shape puts them, `values_by_shape`), finds the
customer through the book's `streams` view and upserts them in key order, the
latest event of a day winning as it does in the fold. The book then marks the
handover bases a balance may move, from each customer's earliest day written:
PostgreSQL's copy returns it, one row a customer; on SQLite, which has no INSERT
inside a WITH to group what it writes, a second statement reads it for the
customers with a handover alone (`earliest_days_copied`; ADR 0026), where
returning every row written would cost about 2 s of a bank rebuild.

On PostgreSQL a day first recorded in the copied range is inserted, not upserted:
`BalanceRecorded` is the first balance of its day (`Customer.record_balance`), so
the view cannot hold that day yet, and a plain insert costs 0.55 s where an
upsert costs 0.91 s for a write's 200,000 rows (ADR 0020). Only days the range
corrects alone are upserted. Should a view hold such a day all the same (the
invariant broken, or another worker's copy), the insert meets the key, and the
book runs the copy again as an upsert of every day (`balances_copy(...,
upsert_all=True)`): the speed rests on the domain's rule, the views never do.

A rebuild's view on PostgreSQL is made without its key and keyed in one sort when the
copy is done (ADR 0031): its copy inserts (`balances_copy_unkeyed`), and declines a
range that corrects a day recorded before it, which keys the view on the way.

Only event classes still at their first version are copied: the statement
reads the stored shape, and an older shape would need the class's upcasters,
which run in Python. A class at version 2 or later is folded in Python.
"""

from __future__ import annotations

from domain.customer import Customer

_BALANCE_EVENTS = (Customer.BalanceRecorded, Customer.BalanceCorrected)

# The topics copied in the database (the others are decoded and folded in Python).
COPIED_TOPICS = frozenset(cls.TOPIC for cls in _BALANCE_EVENTS
                          if getattr(cls, "class_version", 1) == 1)
# The same, as the statements' `topic IN (…)` list.
_COPIED_IN = ", ".join(f"'{topic}'" for topic in sorted(COPIED_TOPICS))


_RECORDED = Customer.BalanceRecorded.TOPIC


def balances_copy(backend: str, events: str, balances: str, streams: str, *,
                  upsert_all: bool = False, part: tuple[int, int] | None = None) -> str:
    """The statement copying the balances stored at positions `?` to `?` (both included)
    into `balances`. On PostgreSQL it returns (customer_no, day): each customer's earliest
    day written. On SQLite it returns nothing (`earliest_days_copied` reads those days).
    On PostgreSQL the days recorded in the range are inserted and fail on a key the view
    holds; `upsert_all` upserts every day instead.

    `part=(k, n)` (PostgreSQL): only the customers whose stream id's last byte is `k`
    modulo `n`. The parts share no customer, so each keeps a day's latest event as the
    whole would, and they can run at once on n connections (ADR 0022)."""
    if part is not None and backend == "sqlite":
        raise ValueError("SQLite has one writer: its copy is never run in parts")
    if backend == "sqlite":
        # Ordered by key and then position: a later event of the same day overwrites.
        # (`WHERE true`: SQLite's grammar needs a WHERE before an upsert's ON CONFLICT.)
        return (
            f"INSERT INTO {balances} (customer_no, day, deposit, loan) "
            "SELECT s.key, json_extract(e.j, '$.on._data_') AS day, "
            "json_extract(e.j, '$.deposit_fen'), json_extract(e.j, '$.loan_fen') "
            f"FROM (SELECT rowid AS p, originator_id, CAST(state AS TEXT) AS j FROM {events} "
            f"WHERE rowid >= ? AND rowid <= ? AND topic IN ({_COPIED_IN})) AS e "
            f"LEFT JOIN {streams} AS s ON s.stream_id = e.originator_id "
            "WHERE true ORDER BY s.key, day, e.p "
            "ON CONFLICT (customer_no, day) DO UPDATE SET deposit=excluded.deposit, "
            "loan=excluded.loan")
    latest = _latest(events, streams, part)
    into = _into(balances)
    upsert = ("ON CONFLICT (customer_no, day) DO UPDATE SET deposit=excluded.deposit, "
              "loan=excluded.loan RETURNING customer_no, day")
    if upsert_all:
        written = f"written AS ({into}{upsert}) "
    else:
        written = (
            f"inserted AS ({into}WHERE recorded RETURNING customer_no, day), "
            f"upserted AS ({into}WHERE NOT recorded {upsert}), "
            "written AS (SELECT * FROM inserted UNION ALL SELECT * FROM upserted) ")
    return (latest + written +
            "SELECT customer_no, min(day COLLATE \"C\") FROM written GROUP BY customer_no")


def _into(balances: str) -> str:
    """PostgreSQL: the start of an insert of `latest`'s rows into `balances`."""
    return (f"INSERT INTO {balances} (customer_no, day, deposit, loan) "
            "SELECT customer_no, day, deposit, loan FROM latest ")


def _latest(events: str, streams: str, part: tuple[int, int] | None) -> str:
    """PostgreSQL: the CTEs `e` (the copied range's balances, their values read) and `latest`
    (each customer's latest balance of each day in the range, and whether the day was first
    recorded in it), opening a WITH."""
    # PostgreSQL refuses to upsert one row twice in a statement: the latest of a day only.
    # The three values are read from the stored text by its shape (`values_by_shape`), a
    # third of the server's work of parsing it as `jsonb`. The sort compares bytes, as the
    # view's key does (`db.text`): text taken out of the JSON has the database's collation,
    # and a view made before `db.text` has it in its columns. The window sorts as the
    # DISTINCT ON does, so one sort serves both. A part is chosen before the values are
    # read: its rows' text alone is cut.
    among = "" if part is None else \
        f" AND mod(get_byte(uuid_send(originator_id), 15), {int(part[1])}) = {int(part[0])}"
    key = "s.key COLLATE \"C\", e.day COLLATE \"C\""
    stored = (
        "SELECT notification_id AS p, replace(originator_id::text, '-', '') AS stream_id, "
        f"topic = '{_RECORDED}' AS recorded, convert_from(state, 'UTF8') AS t FROM {events} "
        f"WHERE notification_id >= ? AND notification_id <= ? AND topic IN ({_COPIED_IN}){among}")
    return (
        f"WITH e AS MATERIALIZED ({values_by_shape(stored)}), "
        f"latest AS MATERIALIZED (SELECT DISTINCT ON ({key}) s.key AS customer_no, "
        "e.day, e.deposit, e.loan, bool_or(e.recorded) OVER (PARTITION BY "
        f"{key} ORDER BY e.p DESC ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED "
        f"FOLLOWING) AS recorded FROM e LEFT JOIN {streams} AS s "
        f"ON s.stream_id = e.stream_id ORDER BY {key}, e.p DESC), ")


def balances_copy_unkeyed(events: str, balances: str, streams: str, *,
                          part: tuple[int, int] | None = None) -> str:
    """PostgreSQL, into a view built without its key (ADR 0031): the statement inserting the
    latest balance of each day stored at positions `?` to `?` (both included), should every
    such day be first recorded in that range. It returns one row, the number of days the
    range corrects that were recorded before it: if that is not 0 it inserts nothing, for
    those days must replace rows, which takes the key. Nothing is returned per customer:
    a view is keyed before anyone reads it, and then every base is computed afresh.
    `part` as for `balances_copy`."""
    return (_latest(events, streams, part) +
            "corrected AS (SELECT count(*) AS days FROM latest WHERE NOT recorded), "
            f"inserted AS ({_into(balances)}WHERE recorded AND (SELECT days FROM corrected) = 0) "
            "SELECT days FROM corrected")


# How the codec stores a recorded balance (`application.transcoding`: the fields in the
# order `Customer.record_balance` gives them, the date tagged as the library tags it), cut
# at its first four commas, a to d (a correction's old values come before its date: parsed):
#   {"deposit_fen":58860369 | "loan_fen":0 | "on":{"_type_":"date_iso" | "_data_":"2024-06-30"}
# (No `%` in it: the statement's `?` become psycopg's `%s`, so a LIKE's `%` would not parse.)
STORED_SHAPE = (
    "left(a, 15) = '{\"deposit_fen\":' AND left(b, 11) = '\"loan_fen\":' "
    "AND c = '\"on\":{\"_type_\":\"date_iso\"' "
    "AND length(d) = 22 AND left(d, 10) = '\"_data_\":\"' AND right(d, 2) = '\"}'")


def shape_checked(stored: str) -> str:
    """PostgreSQL: the rows `stored` selects (`p, stream_id, recorded` and the state's text
    as `t`), with the text cut at its first four commas (`a`, `b`, `d`; `c` is only checked)
    and whether it is of the codec's shape (`fits`, `STORED_SHAPE`). Each fenced level
    (`OFFSET 0`) is computed once a row: unfenced, the planner inlines the text, its pieces
    and the check into each expression that uses them (the check made once instead of three
    times took a third off the whole read)."""
    return (
        f"SELECT p, stream_id, recorded, t, a, b, d, {STORED_SHAPE} AS fits FROM (SELECT p, "
        "stream_id, recorded, t, split_part(t, ',', 1) AS a, split_part(t, ',', 2) AS b, "
        "split_part(t, ',', 3) AS c, split_part(t, ',', 4) AS d "
        f"FROM ({stored} OFFSET 0) AS stored OFFSET 0) AS cut OFFSET 0")


def _by_shape(cut: str, parsed: str) -> str:
    return f"CASE WHEN fits THEN {cut} ELSE {parsed} END"


def values_by_shape(stored: str) -> str:
    """PostgreSQL: `p, stream_id, recorded, day, deposit, loan` of the rows `stored` selects
    (as for `shape_checked`).

    A text of the codec's shape is read where the shape puts each value. A number holds no
    comma and the date is checked whole, so no value can come from another field; a value
    that is not an integer fails its cast, as it does parsed. Any other text (keys in
    another order, spaces, another codec) is parsed as `jsonb`, as every row was before:
    slower, the same values."""
    day = _by_shape("substr(d, 11, 10)", "t::jsonb->'on'->>'_data_'")
    deposit = _by_shape("split_part(a, ':', 2)", "t::jsonb->>'deposit_fen'")
    loan = _by_shape("split_part(b, ':', 2)", "t::jsonb->>'loan_fen'")
    return (
        f"SELECT p, stream_id, recorded, {day} AS day, ({deposit})::bigint AS deposit, "
        f"({loan})::bigint AS loan FROM ({shape_checked(stored)}) AS checked")


def earliest_days_copied(events: str, streams: str) -> str:
    """SQLite: for the customers listed in `IN ({in})` (`ViewDatabase.fetch_in`), the
    earliest day of a balance stored at positions `?` to `?` — what the copy of that
    range wrote for them, read from the event table as the copy read it. The book's
    `streams` view is scanned for the listed keys (tens of thousands of short rows), and
    each of their streams' events found through the event table's key (originator,
    version): a few per cent of the customers' rows, not the range's (`CROSS JOIN` keeps
    that order: without statistics SQLite would scan the range and look up every row's
    stream, as the copy does)."""
    return (
        "SELECT s.key, min(json_extract(CAST(e.state AS TEXT), '$.on._data_')) "
        f"FROM {streams} AS s CROSS JOIN {events} AS e ON e.originator_id = s.stream_id "
        "WHERE s.kind = 'customer' AND s.key IN ({in}) "
        f"AND e.rowid >= ? AND e.rowid <= ? AND e.topic IN ({_COPIED_IN}) GROUP BY s.key")
