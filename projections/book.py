"""The book projection: every fact the reports need, laid out for fast reading.

Per generation it keeps
- `customers`: one JSON document per customer (segment, branch, credit lines,
  status changes, services, card spending, defaults, the custody chain with
  each handover's base recomputed from the balances as currently known);
- `balances`, `non_deposit`, `visits`, `accounts`: one row per fact;
- `managers`: one document per manager (grades, departure, the book, the
  customers it has a share in, and its tier history under the rulebook);
- `meta`: the rulebook documents this generation follows.

Reports (projections/reports) compute figures from these with the pure rules.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any, ClassVar

import orjson

from domain import identity
from domain.rulebook import Rulebook, RulebookHistory, parse_rulebook
from domain.rules.balance_days import balance_days
from domain.rules.base_window import base_window
from domain.rules.calendar import days_between
from projections.balances_copy import (
    COPIED_TOPICS,
    balances_copy,
    balances_copy_unkeyed,
    earliest_days_copied,
)
from projections.base import Projection
from projections.db import ViewDatabase
from projections.envelopes import UNDECODED, Envelope
from projections.tier_history import credit_custody_intervals, tier_history

Doc = dict[str, Any]


def iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


class BalancesRecordedTwice(RuntimeError):
    """A balances view built without its key could not be keyed: two rows share a day."""


class BookProjection(Projection):
    name = "book"
    keyed: bool | None  # whether the balances view has its key (ADR 0031); None: not read yet

    def __init__(self, db: ViewDatabase, generation: int, builtin: Rulebook, events_table: str,
                 what_if: list[dict[str, Any]] | None = None,
                 adopt_until: int | None = None) -> None:
        """`adopt_until`: rulebooks published at or before this position are applied; later
        ones are noted as pending until a rebuild adopts them (so a rebuild can report the
        difference a rule change makes). None adopts every rulebook as it is published.
        `events_table`: the event store's table, which balances are copied from."""
        super().__init__(db, generation)
        self.builtin = builtin
        self.events_table = events_table
        self.what_if = list(what_if or [])
        self.adopt_until = adopt_until
        # Copies that met a day the view held and upserted every day instead (ADR 0020).
        self.copies_upserted = 0
        # Set by a rebuild for a generation only it writes and nobody reads yet: on
        # PostgreSQL its balances' copy runs in two parts at once (ADR 0022).
        self.copy_in_parts = False
        # Set by a rebuild before it makes the generation's tables: on PostgreSQL its
        # balances view is made without its key, keyed once the copy is done (ADR 0031).
        self.key_later = False
        self.keyed = None
        self.forget()

    # ---- tables --------------------------------------------------------------

    def create_tables(self) -> None:
        t, blob, big, text = self.table, self.db.blob, self.db.bigint, self.db.text
        for statement in (
            f"CREATE TABLE IF NOT EXISTS {t('customers')} (customer_no {text} PRIMARY KEY, "
            f"branch {text} NOT NULL, segment {text} NOT NULL, doc {blob} NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {t('customers_branch')} ON {t('customers')} (branch)",
            # Clustered: the balances copy looks up a stream for every balance (ADR 0018).
            f"CREATE TABLE IF NOT EXISTS {t('streams')} (stream_id {text} PRIMARY KEY, "
            f"kind {text} NOT NULL, key {text} NOT NULL){self.db.clustered}",
            f"CREATE TABLE IF NOT EXISTS {t('balances')} (customer_no {text} NOT NULL, "
            f"day {text} NOT NULL, deposit {big} NOT NULL, loan {big} NOT NULL"
            f"{'' if self._keyed_later() else ', PRIMARY KEY (customer_no, day)'})"
            f"{self.db.clustered}",
            f"CREATE TABLE IF NOT EXISTS {t('non_deposit')} (position {big} PRIMARY KEY, "
            f"customer_no {text} NOT NULL, day {text} NOT NULL, kind {text} NOT NULL, amount {big})",
            f"CREATE INDEX IF NOT EXISTS {t('non_deposit_c')} ON {t('non_deposit')} "
            "(customer_no, day)",
            f"CREATE TABLE IF NOT EXISTS {t('visits')} (position {big} PRIMARY KEY, "
            f"customer_no {text} NOT NULL, staff_no {text} NOT NULL, day {text} NOT NULL, "
            f"channel {text} NOT NULL, purpose {text} NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {t('visits_c')} ON {t('visits')} (customer_no, day)",
            f"CREATE TABLE IF NOT EXISTS {t('accounts')} (account_no {text} PRIMARY KEY, "
            f"customer_no {text} NOT NULL, branch {text} NOT NULL, segment {text} NOT NULL, "
            f"type {text} NOT NULL, currency {text} NOT NULL, opened_on {text} NOT NULL, "
            f"closed_on {text})",
            f"CREATE INDEX IF NOT EXISTS {t('accounts_b')} ON {t('accounts')} (branch, opened_on)",
            f"CREATE INDEX IF NOT EXISTS {t('accounts_c')} ON {t('accounts')} (customer_no)",
            f"CREATE TABLE IF NOT EXISTS {t('managers')} (staff_no {text} PRIMARY KEY, "
            f"branch {text} NOT NULL, doc {blob} NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {t('managers_branch')} ON {t('managers')} (branch)",
            f"CREATE TABLE IF NOT EXISTS {t('meta')} (key {text} PRIMARY KEY, doc {blob})",
        ):
            self.db.execute(statement)

    def drop_tables(self) -> None:
        for base in ("customers", "streams", "balances", "non_deposit", "visits", "accounts",
                     "managers", "meta"):
            self.db.execute(f"DROP TABLE IF EXISTS {self.table(base)}")

    # ---- the balances' key (ADR 0031) -----------------------------------------

    def _keyed_later(self) -> bool:
        return self.key_later and self.db.backend == "postgres"

    def balances_keyed(self) -> bool:
        """Whether the balances view has its key. A rebuild's view on PostgreSQL is made
        without it: the copy's inserts then skip the index, which is built in one sort when
        the copy is done (`key_balances`). Read from the catalog, so a process resuming the
        generation knows it too."""
        if self.keyed is None:
            self.keyed = self.db.has_primary_key(self.table("balances"))
        return self.keyed

    def key_balances(self) -> None:
        """Key the balances view and compute every handover's base from it, in a write of
        their own; nothing if it is keyed already. A rebuild does this when its copy is done,
        before the view is read (the diff) or served (the switch)."""
        if self.balances_keyed():
            return
        with self.db.transaction():
            self._key()
            self._write_documents()

    def _key(self) -> None:
        """Build the balances' key, then mark every base for recomputation: while the view
        had no key none was computed (a customer's balances read without it is a scan of the
        whole view), and the customers whose balances moved one were not kept."""
        if not self.db.add_primary_key(self.table("balances"), ("customer_no", "day")):
            raise BalancesRecordedTwice(
                f"book generation {self.generation}: a customer's day holds two balances "
                "recorded as its first; BalanceRecorded is the first balance of its day "
                "(Customer.record_balance), so the store breaks that rule somewhere")
        self.keyed = True
        self.bases_dirty |= self._customers_with_handovers()

    # ---- memory --------------------------------------------------------------

    def forget(self) -> None:
        self.customers: dict[str, Doc] = {}
        self.managers: dict[str, Doc] = {}
        self.streams: dict[str, tuple[str, str]] = {}
        self.new_streams: list[tuple[str, str, str]] = []
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        self.balances: dict[tuple[str, str], tuple[int, int]] = {}  # latest per day wins
        self.copied: list[int] = []  # first and last position of balances not folded here
        self.visits: list[tuple[Any, ...]] = []
        self.non_deposits: list[tuple[Any, ...]] = []
        self.dirty_customers: set[str] = set()
        self.dirty_managers: set[str] = set()
        self.bases_dirty: set[str] = set()
        self.tiers_dirty: set[str] = set()
        self.published: list[dict[str, Any]] | None = None
        self.meta_dirty = False
        self._history: RulebookHistory | None = None
        self.pending_versions: list[str] = []
        # A key once seen stays (nothing drops it): only "not keyed" is read again, since
        # another process may have keyed the view since. Two processes taking turns forget
        # often (ADR 0027), and each write would otherwise ask the catalog again.
        if not self.keyed:
            self.keyed = None
        # Customers whose chain has held a handover: read from the view when first needed,
        # then kept as handovers are folded (a superset: marking them is only extra work).
        self.handover_customers: set[str] | None = None

    def _published(self) -> list[dict[str, Any]]:
        if self.published is None:
            row = self.db.fetchone(f"SELECT doc FROM {self.table('meta')} WHERE key=?",
                                   ("rulebooks",))
            self.published = orjson.loads(row[0]) if row else []
        return self.published

    @property
    def history(self) -> RulebookHistory:
        if self._history is None:
            documents = [*self._published(), *self.what_if]
            self._history = RulebookHistory.of(
                [self.builtin, *(parse_rulebook(d) for d in documents)])
        return self._history

    @property
    def rulebook_version(self) -> str | None:
        return self.history.versions[-1].version

    def customer(self, customer_no: str) -> Doc:
        doc = self.customers.get(customer_no)
        if doc is None:
            row = self.db.fetchone(f"SELECT doc FROM {self.table('customers')} "
                                   "WHERE customer_no=?", (customer_no,))
            if row is None:
                raise KeyError(customer_no)
            doc = self.customers[customer_no] = orjson.loads(row[0])
        return doc

    def manager(self, staff_no: str) -> Doc:
        doc = self.managers.get(staff_no)
        if doc is None:
            row = self.db.fetchone(f"SELECT doc FROM {self.table('managers')} WHERE staff_no=?",
                                   (staff_no,))
            if row is None:
                raise KeyError(staff_no)
            doc = self.managers[staff_no] = orjson.loads(row[0])
        return doc

    def stream(self, stream_id: str) -> tuple[str, str]:
        key = stream_id
        found = self.streams.get(key)
        if found is None:
            row = self.db.fetchone(f"SELECT kind, key FROM {self.table('streams')} "
                                   "WHERE stream_id=?", (key,))
            if row is None:
                raise KeyError(key)
            found = self.streams[key] = (row[0], row[1])
        return found

    def _map_stream(self, stream_id: str, kind: str, key: str) -> None:
        self.streams[stream_id] = (kind, key)
        self.new_streams.append((stream_id, kind, key))

    def _touch_customer(self, customer_no: str) -> Doc:
        self.dirty_customers.add(customer_no)
        return self.customer(customer_no)

    def _touch_manager(self, staff_no: str) -> Doc:
        self.dirty_managers.add(staff_no)
        return self.manager(staff_no)

    # ---- events --------------------------------------------------------------

    def apply(self, batch: list[Envelope]) -> None:
        for event in batch:
            handler = self._handlers.get(event.kind)
            if handler is not None:
                handler(self, event)

    def _onboarded(self, e: Envelope) -> None:
        s = e.state
        no = s["customer_no"]
        self.customers[no] = {
            "no": no, "name": s["name"], "segment": s["segment"], "branch": s["branch"],
            "origin": s["origin"], "marketed_by": s["marketed_by"],
            "used_branch_resources": s["used_branch_resources"], "onboarded_on": iso(e.on),
            "closed_on": None, "credit": [], "status": [], "services": {}, "card": {},
            "defaults": [], "chain": [], "ended_on": None, "vip_grants": [],
        }
        self.dirty_customers.add(no)
        self._map_stream(e.originator_id, "customer", no)
        self._map_stream(identity.assignment_id(no).hex, "assignment", no)

    def _customer_of(self, e: Envelope) -> Doc:
        return self._touch_customer(self.stream(e.originator_id)[1])

    def _account_opened(self, e: Envelope) -> None:
        doc = self.customer(self.stream(e.originator_id)[1])
        s = e.state
        self.statements.append((
            f"INSERT INTO {self.table('accounts')} VALUES (?,?,?,?,?,?,?,NULL) "
            "ON CONFLICT (account_no) DO NOTHING",
            (s["account_no"], doc["no"], doc["branch"], doc["segment"], s["type"], s["currency"],
             iso(e.on))))

    def _account_closed(self, e: Envelope) -> None:
        self.statements.append((
            f"UPDATE {self.table('accounts')} SET closed_on=? WHERE account_no=?",
            (iso(e.on), e.state["account_no"])))

    def _credit_granted(self, e: Envelope) -> None:
        doc = self._customer_of(e)
        doc["credit"].append([iso(e.on), None, e.state["limit_fen"]])
        self._credit_changed(doc)

    def _credit_closed(self, e: Envelope) -> None:
        doc = self._customer_of(e)
        doc["credit"][-1][1] = iso(e.on)
        self._credit_changed(doc)

    def _credit_changed(self, doc: Doc) -> None:
        self.tiers_dirty.update(term["custodian"] for term in doc["chain"])

    def reads_state(self, topic: str) -> bool:
        return topic not in COPIED_TOPICS

    def rows_copied(self) -> frozenset[str]:
        return COPIED_TOPICS

    def passed_over(self, first: int, last: int) -> None:
        self._copy_up_to(first, last)

    def _balance(self, e: Envelope) -> None:
        if e.state is UNDECODED:  # copied in the database when written (balances_copy)
            self._copy_up_to(e.position, e.position)
            return
        customer_no = self.stream(e.originator_id)[1]
        s = e.state
        day = s["on"].isoformat()
        self.balances[customer_no, day] = (s["deposit_fen"], s["loan_fen"])
        self._balance_recorded(customer_no, day)

    def _balance_recorded(self, customer_no: str, day: str) -> None:
        doc = self.customers.get(customer_no) or self.customer(customer_no)
        for term in doc["chain"]:
            # Any balance up to the window's end can move the base: it is carried forward.
            if term["mode"] == "handover" and day <= term["base_end"]:
                self.bases_dirty.add(customer_no)
                break

    def _copy_up_to(self, first: int, last: int) -> None:
        """The balances from `first` (unless a range is already pending) to `last` are to
        be copied at the next flush."""
        if self.copied:
            self.copied[1] = last
        else:
            self.copied[:] = [first, last]

    def _non_deposit(self, e: Envelope) -> None:
        s = e.state
        self.non_deposits.append(
            (e.position, self.stream(e.originator_id)[1], iso(e.on), s["kind"], s["amount_fen"]))

    def _visit(self, e: Envelope) -> None:
        s = e.state
        self.visits.append((e.position, self.stream(e.originator_id)[1], s["staff_no"],
                            iso(e.on), s["channel"], s["purpose"]))

    def _status(self, e: Envelope) -> None:
        self._customer_of(e)["status"].append([iso(e.on), e.state["status"], e.state["previous"]])

    def _service(self, e: Envelope) -> None:
        self._customer_of(e)["services"].setdefault(e.state["service"], iso(e.on))

    def _card(self, e: Envelope) -> None:
        self._customer_of(e)["card"][e.state["month"]] = e.state["amount_fen"]

    def _default(self, e: Envelope) -> None:
        self._customer_of(e)["defaults"].append(iso(e.on))

    def _vip_granted(self, e: Envelope) -> None:
        self._customer_of(e).setdefault("vip_grants", []).append(
            [iso(e.on), e.state["level"], e.state["approver"]])

    def _closed(self, e: Envelope) -> None:
        self._customer_of(e)["closed_on"] = iso(e.on)

    def _registered(self, e: Envelope) -> None:
        s = e.state
        no = s["staff_no"]
        self.managers[no] = {
            "staff_no": no, "name": s["name"], "branch": s["branch"], "role": s["role"],
            "hired_on": iso(e.on), "departed_on": None,
            "grades": [[iso(e.on), s["grade"], s["band"]]], "book": [], "parties": [],
            "tiers": [],
        }
        self.dirty_managers.add(no)
        self.tiers_dirty.add(no)
        self._map_stream(e.originator_id, "manager", no)

    def _manager_of(self, e: Envelope) -> Doc:
        return self._touch_manager(self.stream(e.originator_id)[1])

    def _grade(self, e: Envelope) -> None:
        grades = self._manager_of(e)["grades"]
        grades.append([iso(e.on), e.state["grade"], e.state["band"]])
        grades.sort(key=lambda g: g[0])

    def _departed(self, e: Envelope) -> None:
        doc = self._manager_of(e)
        doc["departed_on"] = iso(e.on)

    def _custody_taken(self, e: Envelope) -> None:
        doc = self._manager_of(e)
        doc["book"].append([e.state["customer_no"], iso(e.on), None])
        self.tiers_dirty.add(doc["staff_no"])

    def _custody_released(self, e: Envelope) -> None:
        doc = self._manager_of(e)
        for entry in doc["book"]:
            if entry[0] == e.state["customer_no"] and entry[2] is None:
                entry[2] = iso(e.on)
        self.tiers_dirty.add(doc["staff_no"])

    def _add_party(self, staff_no: str, customer_no: str) -> None:
        parties = self._touch_manager(staff_no)["parties"]
        if customer_no not in parties:
            parties.append(customer_no)

    def _assigned(self, e: Envelope) -> None:
        s = e.state
        doc = self._touch_customer(s["customer_no"])
        doc["chain"] = [{
            "effective_on": iso(e.on), "mode": "initial", "custodian": s["staff_no"],
            "claim_ratio": s["claim_ratio"], "outgoing": None, "deposit_ratio": None,
            "non_deposit_ratio": None, "rulebook_version": s["rulebook_version"],
            "position": e.position,
        }]
        doc["basis"] = s["basis"]
        self._add_party(s["staff_no"], s["customer_no"])

    def _reassigned(self, e: Envelope) -> None:
        s = e.state
        customer_no = self.stream(e.originator_id)[1]
        doc = self._touch_customer(customer_no)
        term: Doc = {
            "effective_on": iso(e.on), "mode": s["mode"], "custodian": s["to_staff_no"],
            "claim_ratio": s["claim_ratio"], "outgoing": None, "deposit_ratio": None,
            "non_deposit_ratio": None, "rulebook_version": s["rulebook_version"],
            "position": e.position,
        }
        if s["mode"] == "handover":
            term.update(outgoing=s["from_staff_no"], deposit_ratio=s["deposit_ratio"],
                        non_deposit_ratio=s["non_deposit_ratio"],
                        recorded_base_balance_days=s["base_balance_days"],
                        recorded_base_days=s["base_days"])
            self._set_window(term)
            self.bases_dirty.add(customer_no)
            if self.handover_customers is not None:
                self.handover_customers.add(customer_no)
        doc["chain"].append(term)
        self._add_party(s["to_staff_no"], customer_no)
        self._add_party(s["from_staff_no"], customer_no)
        self.tiers_dirty.update((s["to_staff_no"], s["from_staff_no"]))

    def _set_window(self, term: Doc) -> None:
        """The base window follows the rulebook in force on the handover's date."""
        effective_on = date.fromisoformat(term["effective_on"])
        kind = self.history.effective_on(effective_on).base_window
        start, end = base_window(effective_on, kind)
        term.update(base_window=kind, base_start=iso(start), base_end=iso(end))

    def _ended(self, e: Envelope) -> None:
        self._customer_of(e)["ended_on"] = iso(e.on)

    def _published_rulebook(self, e: Envelope) -> None:
        if self.adopt_until is not None and e.position > self.adopt_until:
            self.pending_versions.append(e.state["version"])
            return
        self._published().append(e.state["document"])
        self._history = None
        self.meta_dirty = True
        effective_from = iso(e.on) or ""
        # A new version may move tier boundaries and base windows from its date on.
        self.tiers_dirty.update(self._all_manager_keys())
        for customer_no in sorted(self._customers_with_handovers()):
            doc = self._touch_customer(customer_no)
            for term in doc["chain"]:
                if term["mode"] == "handover" and term["effective_on"] >= effective_from:
                    self._set_window(term)
                    self.bases_dirty.add(customer_no)

    def _all_manager_keys(self) -> list[str]:
        rows = self.db.fetchall(f"SELECT staff_no FROM {self.table('managers')}")
        return sorted({r[0] for r in rows} | set(self.managers))

    def _customers_with_handovers(self) -> set[str]:
        """The customers whose bases a balance or a rulebook may move (ADR 0026)."""
        if self.handover_customers is None:
            found = {no for no, doc in self.customers.items()
                     if any(t["mode"] == "handover" for t in doc["chain"])}
            for no, raw in self.db.fetchall(
                    f"SELECT customer_no, doc FROM {self.table('customers')}"):
                if no not in found and no not in self.customers and b'"handover"' in bytes(raw):
                    found.add(no)
            self.handover_customers = found
        return self.handover_customers

    _handlers: ClassVar[dict[str, Callable[[BookProjection, Envelope], None]]] = {
        "Customer/Onboarded": _onboarded,
        "Customer/AccountOpened": _account_opened,
        "Customer/AccountClosed": _account_closed,
        "Customer/CreditGranted": _credit_granted,
        "Customer/CreditClosed": _credit_closed,
        "Customer/BalanceRecorded": _balance,
        "Customer/BalanceCorrected": _balance,
        "Customer/NonDepositBusinessRecorded": _non_deposit,
        "Customer/StatusChanged": _status,
        "Customer/ServiceSigned": _service,
        "Customer/CardSpendingRecorded": _card,
        "Customer/RepaymentDefaultRecorded": _default,
        "Customer/VisitLogged": _visit,
        "Customer/VipGranted": _vip_granted,
        "Customer/Closed": _closed,
        "Manager/Registered": _registered,
        "Manager/GradeChanged": _grade,
        "Manager/Departed": _departed,
        "Manager/CustodyTaken": _custody_taken,
        "Manager/CustodyReleased": _custody_released,
        "Assignment/Assigned": _assigned,
        "Assignment/Reassigned": _reassigned,
        "Assignment/Ended": _ended,
        "RulebookRegistry/Published": _published_rulebook,
    }

    # ---- writing -------------------------------------------------------------

    def flush(self) -> None:
        # SQLite has one writer: a second connection's part would only wait for this one.
        # Balances folded in this write (a class past its first version) are written here
        # uncommitted; a part apart meeting one of their keys would wait on this write,
        # which waits on it: such a write copies in one part.
        in_parts = self.copy_in_parts and self.db.backend == "postgres" and not self.balances
        if self.balances and not self.balances_keyed():  # written below by their key
            self._key()
        apart = self._copy_part_apart() if self.copied and in_parts else None
        try:
            self._flush(apart)
        finally:
            if apart is not None:  # never leave it writing behind a failed write
                apart.settle()

    def _flush(self, apart: _PartApart | None) -> None:
        t, db = self.table, self.db
        if apart is not None:
            apart.streams.result()  # committed there first: below they are already held
        db.insert_rows(t("streams"), ("stream_id", "kind", "key"), self.new_streams,
                       key=("stream_id",))
        db.insert_rows(t("balances"), ("customer_no", "day", "deposit", "loan"),
                       [(no, day, deposit, loan)
                        for (no, day), (deposit, loan) in self.balances.items()],
                       key=("customer_no", "day"), update=("deposit", "loan"))
        db.insert_rows(t("visits"), ("position", "customer_no", "staff_no", "day", "channel",
                                     "purpose"), self.visits, key=("position",))
        db.insert_rows(t("non_deposit"), ("position", "customer_no", "day", "kind", "amount"),
                       self.non_deposits, key=("position",))
        self.balances.clear()
        if self.copied:
            first, last = self.copied
            self._copy_balances(first, last, apart)
            self.copied = []
        self.visits.clear()
        self.non_deposits.clear()
        self._run_statements()
        self._write_documents()

    def _write_documents(self) -> None:
        """The documents this write changed, with the bases and tiers they need recomputed
        (bases only once the balances view has its key, ADR 0031)."""
        if self.balances_keyed():
            for customer_no in sorted(self.bases_dirty):
                self._recompute_bases(customer_no)
        for staff_no in sorted(self.tiers_dirty):
            self._recompute_tiers(staff_no)
        self.db.executemany(
            f"INSERT INTO {self.table('customers')} VALUES (?,?,?,?) ON CONFLICT (customer_no) "
            "DO UPDATE SET doc=excluded.doc",
            [(no, d["branch"], d["segment"], orjson.dumps(d))
             for no in sorted(self.dirty_customers) for d in (self.customers[no],)])
        self.db.executemany(
            f"INSERT INTO {self.table('managers')} VALUES (?,?,?) ON CONFLICT (staff_no) "
            "DO UPDATE SET doc=excluded.doc",
            [(no, d["branch"], orjson.dumps(d))
             for no in sorted(self.dirty_managers) for d in (self.managers[no],)])
        if self.meta_dirty:
            self.db.execute(f"INSERT INTO {self.table('meta')} VALUES (?, ?) ON CONFLICT (key) "
                            "DO UPDATE SET doc=excluded.doc",
                            ("rulebooks", orjson.dumps(self._published())))
        self.new_streams.clear()
        self.dirty_customers.clear()
        self.dirty_managers.clear()
        self.bases_dirty.clear()
        self.tiers_dirty.clear()
        self.meta_dirty = False

    def _copy_part_apart(self) -> _PartApart:
        """The second of the copy's two parts, started on a connection of its own (ADR 0022).
        It joins `streams`, so this write's new streams are committed first, there."""
        db, streams, new = self.db, self.table("streams"), list(self.new_streams)

        def write_streams() -> None:
            with db.transaction():
                db.insert_rows(streams, ("stream_id", "kind", "key"), new, key=("stream_id",))

        first, last = self.copied
        return _PartApart(db, write_streams, *self._copy_statements(part=(1, 2)),
                          (first, last))

    def _copy_statement(self, *, upsert_all: bool = False,
                        part: tuple[int, int] | None = None) -> str:
        return balances_copy(self.db.backend, self.events_table, self.table("balances"),
                             self.table("streams"), upsert_all=upsert_all, part=part)

    def _copy_statements(self, part: tuple[int, int] | None = None) -> tuple[str, str]:
        """The copy and its fallback, upserting every day (ADR 0020). Into a view without its
        key, the copy that declines a range correcting days recorded before it (ADR 0031);
        it meets no key, so its fallback is itself."""
        if not self.balances_keyed():  # only PostgreSQL builds a view without it
            unkeyed = balances_copy_unkeyed(self.events_table, self.table("balances"),
                                            self.table("streams"), part=part)
            return unkeyed, unkeyed
        return self._copy_statement(part=part), self._copy_statement(upsert_all=True, part=part)

    def _copy_balances(self, first: int, last: int, apart: _PartApart | None = None) -> None:
        """The balances stored from position `first` to `last`, read undecoded or not read
        at all, copied from the event store into the view by one statement (ADR 0016). No
        row of a balance topic in that range was folded: the range starts after what was.
        A balance of a stream the view does not know fails the view's NOT NULL, as the
        fold's KeyError would. The base windows a balance can move are marked as the fold
        marks them, checked against the chain as it stands now: a superset, and the
        recomputation reads the view, so the result is the same."""
        if self.db.backend == "sqlite":
            # One statement upserting every day; then the earliest day it wrote for each
            # customer with a handover, the only bases a balance can move.
            self.db.execute(self._copy_statement(), (first, last))
            rows = self.db.fetch_in(
                earliest_days_copied(self.events_table, self.table("streams")),
                sorted(self._customers_with_handovers()), first, last)
        elif not self.balances_keyed():
            # Into a view without its key (ADR 0031) each part inserts its days, or declines
            # if its range corrects a day recorded before it: the view is then keyed, and the
            # parts that declined are copied again as below. No base is marked: keying marks
            # them all.
            part = None if apart is None else (0, 2)
            declined = [part] if self.db.fetchall(self._copy_statements(part)[0],
                                                  (first, last))[0][0] else []
            if apart is not None:
                found, _ = apart.copy.result()
                declined += [(1, 2)] if found[0][0] else []
            if declined:
                self._key()
                for part in declined:
                    self._copy_keyed(first, last, part)
            return
        else:
            # PostgreSQL inserts the days recorded in the range and upserts every day should
            # the view hold one (ADR 0020); it returns each customer's earliest day written.
            # With a part apart, this connection copies the other part meanwhile (ADR 0022).
            rows = self._copy_keyed(first, last, None if apart is None else (0, 2))
            if apart is not None:
                more, upserted = apart.copy.result()
                rows += more
                self.copies_upserted += upserted
        for customer_no, day in rows:
            self._balance_recorded(customer_no, day)

    def _copy_keyed(self, first: int, last: int, part: tuple[int, int] | None) -> list[Any]:
        """PostgreSQL: `part` of the range copied into the keyed view, its fallback if it
        meets a day the view holds (ADR 0020); each customer's earliest day written."""
        rows, upserted = self.db.fetchall_or_else(*self._copy_statements(part), (first, last))
        self.copies_upserted += upserted
        return rows

    def _run_statements(self) -> None:
        """Run queued row writes in order, grouping runs of one statement into executemany."""
        group: list[tuple[Any, ...]] = []
        current: str | None = None
        for statement, params in self.statements:
            if statement != current and group:
                self.db.executemany(current or "", group)
                group = []
            current = statement
            group.append(params)
        if group and current is not None:
            self.db.executemany(current, group)
        self.statements.clear()

    def _recompute_bases(self, customer_no: str) -> None:
        """Handover bases from the balances as currently known (DOMAIN §4.2)."""
        doc = self._touch_customer(customer_no)
        handovers = [t for t in doc["chain"] if t["mode"] == "handover"]
        if not handovers:
            return
        last_end = max(t["base_end"] for t in handovers)
        rows = self.db.fetchall(f"SELECT day, deposit FROM {self.table('balances')} "
                                "WHERE customer_no=? AND day<=? ORDER BY day",
                                (customer_no, last_end))
        deposits = {date.fromisoformat(day): deposit for day, deposit in rows}
        for term in handovers:
            start, end = date.fromisoformat(term["base_start"]), date.fromisoformat(term["base_end"])
            term["base_balance_days"] = balance_days(deposits, start, end)
            term["base_days"] = days_between(start, end)

    def _recompute_tiers(self, staff_no: str) -> None:
        try:
            doc = self._touch_manager(staff_no)
        except KeyError:
            return

        def credit_of(customer_no: str) -> list[list[Any]]:
            credit: list[list[Any]] = self.customer(customer_no)["credit"]
            return credit

        intervals = credit_custody_intervals(doc["book"], credit_of)
        doc["tiers"] = tier_history(doc["role"], doc["hired_on"], intervals, self.history)


class _PartApart:
    """One part of a write's balances copy run on a helper thread's own connection, in
    transactions of its own that commit before the write's (ADR 0022): first this write's
    new streams, then the copy of its customers. Safe only where the write's generation has
    no other writer and no reader (a rebuild's): should the write then fail, the part's
    rows are ahead of a position nobody serves, and a copy run again over them would fall
    back to upserting the same facts (ADR 0020)."""

    def __init__(self, db: ViewDatabase, write_streams: Callable[[], None], statement: str,
                 fallback: str, params: tuple[int, int]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rmbook-copy-part")
        self.streams: Future[None] = self._pool.submit(write_streams)
        self.copy: Future[tuple[list[Any], bool]] = self._pool.submit(
            self._after_streams, db, statement, fallback, params)
        self._pool.submit(db.release)  # the helper's connection closed once its part is done

    def _after_streams(self, db: ViewDatabase, statement: str, fallback: str,
                       params: tuple[int, int]) -> tuple[list[Any], bool]:
        self.streams.result()  # the copy joins them: without them it would fail
        return db.fetchall_or_else(statement, fallback, params)

    def settle(self) -> None:
        """Wait until the part has committed or failed (its error is the caller's to read)
        and its thread has closed its connection and ended."""
        self._pool.shutdown(wait=True)
