"""The book of business: one application service per process, one method per use case.

Each method is get → act → save: load the aggregates involved, let the
domain check the rules and record events, then save every changed aggregate
in one transaction. A refusal raises before anything is saved.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    RecordConflictError,
    StoredEvent,
)

from application import commands as c
from application.balance_import import (
    CHUNK_EVENTS,
    STREAMED_ROWS,
    BalanceRow,
    ImportReport,
    InvalidRow,
    Progress,
    apply_feed,
    parse_feed,
    write_feed,
)
from application.recorders import BulkPostgresRecorder, EncodedAsRead
from application.settings import Clock, Settings, schema_lock
from application.warm_customers import WarmCustomers
from domain import identity
from domain.account_number import AccountNumber
from domain.assignment import Assignment
from domain.custody_rules import counts_toward_cap
from domain.customer import BalanceOutcome, Customer
from domain.customer_snapshot import CustomerSnapshot, StaleSnapshot
from domain.dating import not_before
from domain.errors import (
    AlreadyAssigned,
    AlreadyExists,
    ConcurrencyConflict,
    InvalidInput,
    NotAssigned,
    NotFound,
)
from domain.manager import Manager
from domain.money import parse_amount, parse_ratio
from domain.rulebook import Rulebook, RulebookHistory, parse_rulebook
from domain.rulebooks import RulebookRegistry
from domain.rules.base_window import Base
from domain.values import Basis, ReassignmentMode, Segment, basis_for

A = TypeVar("A", bound=Aggregate)
P = ParamSpec("P")
R = TypeVar("R")
CONFLICT_ATTEMPTS = 3
RACE_LOST = "the record was changed by someone else meanwhile; nothing was written, retry"


def retried_on_conflict(command: Callable[P, R]) -> Callable[P, R]:
    """A command that lost a race with another writer wrote nothing (one transaction), so
    it runs again on fresh state; only a third loss in a row reaches the caller as 409."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(CONFLICT_ATTEMPTS - 1):
            try:
                return command(*args, **kwargs)
            except ConcurrencyConflict:
                continue
        return command(*args, **kwargs)

    return run


BRANCHES_REMEMBERED = 200_000  # customers' and managers' branches kept in memory


@functools.cache
def builtin_rulebook() -> Rulebook:
    """The default rules shipped with rmbook (same content as rulebook-2024.json); a frozen
    value, read and parsed once per process (timelines ask for it on every page)."""
    text = resources.files("application").joinpath("default_rulebook.json").read_text("utf-8")
    return parse_rulebook(json.loads(text))


@dataclass
class Receipt:
    """What a write returns: its position in the global sequence, plus any result."""

    position: int | None
    result: dict[str, Any] = field(default_factory=dict)


class BookOfBusiness(Application[UUID]):
    name = "rmbook"
    # Customers are loaded from their latest snapshot and the events after it (ADR 0024).
    is_snapshotting_enabled = True
    snapshot_class = CustomerSnapshot  # the library's take_snapshot: customers only

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.clock = clock or Clock(self.settings.today)
        self.builtin = builtin_rulebook()
        with schema_lock(self.settings):
            super().__init__(env=self.settings.eventsourcing_env())
        # The balance feed keeps its own warm customers (application/warm_customers.py).
        self.warm_customers = WarmCustomers(
            self.recorder, self.mapper, self.settings.feed_cache_size,
            self.snapshots.recorder if self.snapshots is not None else None)
        self._feed_lock = threading.Lock()
        self._branches: dict[UUID, str] = {}

    # ---- plumbing ----------------------------------------------------------

    def today(self) -> date:
        return self.clock.today()

    def _load(self, aggregate_id: UUID, deepcopy: bool = True) -> Any:
        """The library's repository, folding events with `mutate_in_turn`: every load of
        an aggregate goes through here (AggregateNotFoundError when there is none)."""
        try:
            return self.repository.get(aggregate_id, deepcopy_from_cache=deepcopy,
                                       projector_func=mutate_in_turn)
        except StaleSnapshot:  # written in another format: the events alone decide
            folded = mutate_in_turn(None, self.events.get(aggregate_id))
            if folded is None:  # pragma: no cover - a snapshot implies events
                raise AggregateNotFoundError(aggregate_id) from None
            cache = self.repository.cache
            if cache is None:
                return folded
            cache.put(aggregate_id, folded)  # as the repository caches what it folds
            return copy.deepcopy(folded) if deepcopy else folded

    def _get(self, cls: type[A], aggregate_id: UUID, what: str, field: str,
             read_only: bool = False) -> A:
        """Load an aggregate. `read_only` skips the cache's defensive deep copy: only for
        callers that never change the object (a copy costs milliseconds on big books)."""
        try:
            aggregate: Any = self._load(aggregate_id, deepcopy=not read_only)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found", field=field) from None
        if not isinstance(aggregate, cls):  # pragma: no cover - ids are namespaced per kind
            raise NotFound(f"{what} not found", field=field)
        return aggregate

    def customer(self, customer_no: str, read_only: bool = False) -> Customer:
        return self._get(Customer, identity.customer_id(customer_no),
                         f"customer {customer_no}", "customer_no", read_only)

    def manager(self, staff_no: str, field: str = "staff_no", read_only: bool = False) -> Manager:
        return self._get(Manager, identity.manager_id(staff_no), f"manager {staff_no}", field,
                         read_only)

    def branch_of_customer(self, customer_no: str) -> str | None:
        """The customer's branch, or None if there is no such customer. A branch is set when
        the customer is onboarded and no event moves it, so the first event alone answers —
        scoping an API read must not load a year of history — and is remembered once known."""
        return self._branch_of(identity.customer_id(customer_no))

    def branch_of_manager(self, staff_no: str) -> str | None:
        """As for customers: a manager's branch is the one registered."""
        return self._branch_of(identity.manager_id(staff_no))

    def _branch_of(self, aggregate_id: UUID) -> str | None:
        found = self._branches.get(aggregate_id)
        if found is None:
            first = list(self.events.get(aggregate_id, limit=1))
            if not first:
                return None
            found = first[0].branch  # type: ignore[attr-defined]  # Onboarded / Registered
            if len(self._branches) > BRANCHES_REMEMBERED:
                self._branches.clear()
            self._branches[aggregate_id] = found
        return found

    def assignment(self, customer_no: str) -> Assignment | None:
        try:
            return self._get(Assignment, identity.assignment_id(customer_no), "", "customer_no")
        except NotFound:
            return None

    def rulebook_history(self) -> RulebookHistory:
        try:
            registry: Any = self._load(identity.RULEBOOKS_ID)
        except AggregateNotFoundError:
            return RulebookHistory.of([self.builtin])
        assert isinstance(registry, RulebookRegistry)
        return registry.history(self.builtin)

    def rulebook_on(self, on: date) -> Rulebook:
        return self.rulebook_history().effective_on(on)

    def _commit(self, *aggregates: Aggregate | None, created: str | None = None) -> int | None:
        """Save all changes in one transaction; the last position written, if any."""
        positions = self._store(*aggregates, created=created)
        return max(positions) if positions else None

    def _store(self, *aggregates: Aggregate | None, created: str | None = None
               ) -> Sequence[int]:
        """Save all changes in one transaction; a clash is a conflict, never a lost write."""
        # Events go straight to the event store: Application.save() would also check each
        # aggregate against runtime Protocols, which costs more than the insert on big feeds.
        events = [event for aggregate in aggregates if aggregate is not None
                  for event in aggregate.collect_events()]
        # Recorded time (DOMAIN §1) is when the store takes the facts, not when they were
        # prepared in memory (a big feed is validated for seconds first): stamp them now.
        stored_at = datetime.now(UTC)
        for event in events:
            object.__setattr__(event, "timestamp", stored_at)
        try:
            # The mapper and recorder of the event store, without building the library's
            # per-event Recording objects: a position is all a write answers. Each event
            # is encoded as the recorder sends it (application/recorders.py).
            positions = self.recorder.insert_events(
                EncodedAsRead(events, self.mapper.to_stored_event)) or []
        except (IntegrityError, RecordConflictError) as e:
            for aggregate in aggregates:
                if aggregate is not None:
                    self._evict(aggregate.id)
            if created:
                raise AlreadyExists(created) from e
            raise ConcurrencyConflict(RACE_LOST) from e
        return positions

    def _evict(self, aggregate_id: UUID) -> None:
        cache = self.repository.cache
        if cache is not None:
            with suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    # ---- managers ----------------------------------------------------------

    @retried_on_conflict
    def register_manager(self, cmd: c.RegisterManager) -> Receipt:
        manager = Manager.register(
            staff_no=cmd.staff_no, name=cmd.name, branch=cmd.branch, role=cmd.role,
            grade=cmd.grade, band=cmd.band, hired_on=cmd.hired_on, today=self.today(),
            actor=cmd.actor, reason=cmd.reason)
        position = self._commit(manager, created=f"manager {cmd.staff_no} already exists")
        return Receipt(position, {"staff_no": cmd.staff_no})

    @retried_on_conflict
    def change_grade(self, cmd: c.ChangeGrade) -> Receipt:
        manager = self.manager(cmd.staff_no)
        manager.change_grade(grade=cmd.grade, band=cmd.band, on=cmd.effective_on,
                             today=self.today(), actor=cmd.actor, reason=cmd.reason)
        return Receipt(self._commit(manager))

    @retried_on_conflict
    def record_departure(self, cmd: c.RecordDeparture) -> Receipt:
        manager = self.manager(cmd.staff_no)
        manager.depart(on=cmd.on, today=self.today(), actor=cmd.actor, reason=cmd.reason)
        held = [e.customer_no for e in manager.current_book()]
        return Receipt(self._commit(manager), {"needs_reassignment": held})

    # ---- customers ---------------------------------------------------------

    @retried_on_conflict
    def onboard_customer(self, cmd: c.OnboardCustomer) -> Receipt:
        if cmd.marketed_by is not None:
            self.manager(cmd.marketed_by, "marketed_by", read_only=True)
        customer = Customer.onboard(
            customer_no=cmd.customer_no, name=cmd.name, segment=cmd.segment, branch=cmd.branch,
            origin=cmd.origin, marketed_by=cmd.marketed_by,
            used_branch_resources=cmd.used_branch_resources, on=cmd.onboarded_on,
            today=self.today(), actor=cmd.actor, reason=cmd.reason)
        position = self._commit(customer, created=f"customer {cmd.customer_no} already exists")
        return Receipt(position, {"customer_no": cmd.customer_no})

    @retried_on_conflict
    def open_account(self, cmd: c.OpenAccount) -> Receipt:
        customer = self.customer(cmd.customer_no)
        customer.open_account(account_no=cmd.account_no, type=cmd.type, currency=cmd.currency,
                              on=cmd.opened_on, today=self.today(), actor=cmd.actor,
                              reason=cmd.reason)
        claim = AccountNumber(account_no=cmd.account_no, customer_no=cmd.customer_no,
                              on=cmd.opened_on, actor=cmd.actor, reason=cmd.reason)
        try:
            position = self._commit(customer, claim)
        except ConcurrencyConflict:
            if self._exists(claim.id):
                raise AlreadyExists(f"account {cmd.account_no} already exists",
                                    field="account_no") from None
            raise
        return Receipt(position, {"account_no": cmd.account_no})

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    @retried_on_conflict
    def close_account(self, cmd: c.CloseAccount) -> Receipt:
        customer = self.customer(cmd.customer_no)
        closing_on = customer.closing_date(cmd.account_no, cmd.on)
        if closing_on is not None:
            self._closure_after_custody(cmd.customer_no, closing_on)
        closed = customer.close_account(account_no=cmd.account_no, on=cmd.on,
                                        today=self.today(), actor=cmd.actor, reason=cmd.reason)
        changed: list[Aggregate] = [customer]
        if closed:
            assert customer.closed_on is not None
            changed += self._end_custody(customer, customer.closed_on, cmd.actor,
                                         "customer closed")
        return Receipt(self._commit(*changed), {"customer_closed": closed})

    @retried_on_conflict
    def close_customer(self, cmd: c.CloseCustomer) -> Receipt:
        customer = self.customer(cmd.customer_no)
        self._closure_after_custody(cmd.customer_no, cmd.on)
        customer.close(on=cmd.on, today=self.today(), actor=cmd.actor, reason=cmd.reason)
        changed = [customer, *self._end_custody(customer, cmd.on, cmd.actor, cmd.reason)]
        return Receipt(self._commit(*changed))

    def _closure_after_custody(self, customer_no: str, on: date) -> None:
        """A customer cannot leave a book before it entered it (custody ends at closure)."""
        assignment = self.assignment(customer_no)
        if assignment is not None and assignment.ended_on is None:
            not_before(on, assignment.terms[-1].effective_on, "the current custody began")

    def _end_custody(self, customer: Customer, on: date, actor: str,
                     reason: str | None) -> list[Aggregate]:
        assignment = self.assignment(customer.customer_no)
        if assignment is None or assignment.ended_on is not None:
            return []
        custodian = self.manager(assignment.custodian)
        assignment.end(custodian=custodian, on=on, actor=actor, reason=reason)
        return [assignment, custodian]

    @retried_on_conflict
    def grant_credit(self, cmd: c.GrantCredit) -> Receipt:
        customer = self.customer(cmd.customer_no)
        customer.grant_credit(limit_fen=parse_amount(cmd.limit, field="limit"),
                              on=cmd.granted_on, today=self.today(), actor=cmd.actor,
                              reason=cmd.reason)
        return Receipt(self._commit(customer))

    @retried_on_conflict
    def close_credit(self, cmd: c.CloseCredit) -> Receipt:
        customer = self.customer(cmd.customer_no)
        customer.close_credit(on=cmd.on, today=self.today(), actor=cmd.actor, reason=cmd.reason)
        return Receipt(self._commit(customer))

    @retried_on_conflict
    def record_balance(self, cmd: c.RecordBalance) -> Receipt:
        customer = self.customer(cmd.customer_no)
        outcome = customer.record_balance(
            on=cmd.on, deposit_fen=parse_amount(cmd.deposit, field="deposit"),
            loan_fen=parse_amount(cmd.loan, field="loan"), today=self.today(), actor=cmd.actor,
            reason=cmd.reason)
        position = self._commit(customer) if outcome != BalanceOutcome.UNCHANGED else None
        return Receipt(position, {"recorded": outcome != BalanceOutcome.UNCHANGED,
                                  "correction": outcome == BalanceOutcome.CORRECTED})

    @retried_on_conflict
    def record_non_deposit(self, cmd: c.RecordNonDeposit) -> Receipt:
        customer = self.customer(cmd.customer_no)
        customer.record_non_deposit(on=cmd.on, kind=cmd.kind,
                                    amount_fen=parse_amount(cmd.amount, field="amount"),
                                    today=self.today(), actor=cmd.actor, reason=cmd.reason)
        return Receipt(self._commit(customer))

    @retried_on_conflict
    def change_status(self, cmd: c.ChangeStatus) -> Receipt:
        customer = self.customer(cmd.customer_no)
        changed = customer.change_status(status=cmd.status, on=cmd.on, today=self.today(),
                                         actor=cmd.actor, reason=cmd.reason)
        return Receipt(self._commit(customer) if changed else None, {"changed": changed})

    @retried_on_conflict
    def sign_service(self, cmd: c.SignService) -> Receipt:
        customer = self.customer(cmd.customer_no)
        signed = customer.sign_service(service=cmd.service, on=cmd.on, today=self.today(),
                                       actor=cmd.actor, reason=cmd.reason)
        return Receipt(self._commit(customer) if signed else None, {"signed": signed})

    @retried_on_conflict
    def record_card_spending(self, cmd: c.RecordCardSpending) -> Receipt:
        customer = self.customer(cmd.customer_no)
        month = date.fromisoformat(f"{cmd.month}-01")
        recorded = customer.record_card_spending(
            month=month, amount_fen=parse_amount(cmd.amount, field="amount"), today=self.today(),
            actor=cmd.actor, reason=cmd.reason)
        return Receipt(self._commit(customer) if recorded else None, {"recorded": recorded})

    @retried_on_conflict
    def grant_vip(self, cmd: c.GrantVip) -> Receipt:
        customer = self.customer(cmd.customer_no)
        customer.grant_vip(level=cmd.level, approver=cmd.approver, on=cmd.on, today=self.today(),
                           actor=cmd.actor, reason=cmd.reason)
        return Receipt(self._commit(customer))

    @retried_on_conflict
    def record_repayment_default(self, cmd: c.RecordRepaymentDefault) -> Receipt:
        customer = self.customer(cmd.customer_no)
        customer.record_repayment_default(on=cmd.on, today=self.today(), actor=cmd.actor,
                                          reason=cmd.reason)
        return Receipt(self._commit(customer))

    @retried_on_conflict
    def log_visit(self, cmd: c.LogVisit) -> Receipt:
        customer = self.customer(cmd.customer_no)
        self.manager(cmd.staff_no, read_only=True)
        visit = customer.log_visit(staff_no=cmd.staff_no, on=cmd.on, channel=cmd.channel,
                                   purpose=cmd.purpose, notes=cmd.notes, today=self.today(),
                                   actor=cmd.actor, reason=cmd.reason)
        position = self._commit(customer)
        return Receipt(position, {"customer_no": cmd.customer_no, "staff_no": visit.staff_no,
                                  "on": visit.on, "channel": visit.channel.value,
                                  "purpose": visit.purpose.value})

    # ---- custody -----------------------------------------------------------

    def _cap_load(self, manager: Manager, customer: Customer, rulebook: Rulebook,
                  on: date) -> tuple[int, bool]:
        """What the cap of the manager's role counts now, and whether this customer counts."""
        counts = counts_toward_cap(rulebook, manager.role, customer.segment,
                                   customer.credit_customer_on(on))
        cap = rulebook.caps.get(manager.role)
        if not counts or cap is None:
            return 0, False
        book = manager.current_book()
        if cap.counts == "customers":
            return len(book), True
        # Only corporate customers can count toward a corporate-credit cap: read just those.
        counted = 0
        for entry in book:
            if entry.segment is Segment.CORPORATE:
                held = self.customer(entry.customer_no, read_only=True)
                counted += counts_toward_cap(rulebook, manager.role, held.segment,
                                             held.credit_customer_on(on))
        return counted, True

    @retried_on_conflict
    def assign(self, cmd: c.Assign) -> Receipt:
        customer = self.customer(cmd.customer_no)
        if self.assignment(cmd.customer_no) is not None:
            raise AlreadyAssigned(f"customer {cmd.customer_no} already has a custodian; "
                                  "use a reassignment", field="customer_no")
        manager = self.manager(cmd.staff_no)
        basis = _basis(cmd.basis, customer)
        rulebook = self.rulebook_on(cmd.effective_on)
        counted, counts = self._cap_load(manager, customer, rulebook, cmd.effective_on)
        assignment = Assignment.assign(
            customer=customer, manager=manager, basis=basis,
            claim_ratio=parse_ratio(cmd.claim_ratio, field="claim_ratio"),
            effective_on=cmd.effective_on, rulebook=rulebook, counted_now=counted, counts=counts,
            today=self.today(), actor=cmd.actor, reason=cmd.reason)
        try:
            position = self._commit(assignment, manager)
        except ConcurrencyConflict:
            if self._exists(assignment.id):
                    raise AlreadyAssigned(f"customer {cmd.customer_no} already has a custodian",
                                      field="customer_no") from None
            raise
        return Receipt(position, self.custody(cmd.customer_no))

    @retried_on_conflict
    def reassign(self, cmd: c.Reassign) -> Receipt:
        customer = self.customer(cmd.customer_no)
        assignment = self.assignment(cmd.customer_no)
        if assignment is None:
            raise NotAssigned(f"customer {cmd.customer_no} has no custodian yet; assign first",
                              field="customer_no")
        incoming = self.manager(cmd.to_staff_no, "to_staff_no")
        outgoing = self.manager(assignment.custodian)
        rulebook = self.rulebook_on(cmd.effective_on)
        counted, counts = self._cap_load(incoming, customer, rulebook, cmd.effective_on)
        common: dict[str, Any] = {
            "customer": customer, "outgoing": outgoing, "incoming": incoming,
            "effective_on": cmd.effective_on, "rulebook": rulebook, "counted_now": counted,
            "counts": counts, "today": self.today(), "actor": cmd.actor, "reason": cmd.reason}
        base: Base | None = None
        if cmd.mode is ReassignmentMode.HANDOVER:
            if cmd.deposit_ratio is None or cmd.non_deposit_ratio is None:
                missing = "deposit_ratio" if cmd.deposit_ratio is None else "non_deposit_ratio"
                raise InvalidInput(f"a handover needs {missing}", field=missing)
            base = assignment.hand_over(
                deposit_ratio=parse_ratio(cmd.deposit_ratio, field="deposit_ratio"),
                non_deposit_ratio=parse_ratio(cmd.non_deposit_ratio, field="non_deposit_ratio"),
                **common)
        else:
            if cmd.claim_ratio is None:
                raise InvalidInput("a full transfer needs claim_ratio", field="claim_ratio")
            assignment.transfer_in_full(
                claim_ratio=parse_ratio(cmd.claim_ratio, field="claim_ratio"), **common)
        position = self._commit(assignment, incoming, outgoing)
        result = self.custody(cmd.customer_no)
        result["base_daily_average"] = base.daily_average if base else None
        return Receipt(position, result)

    def custody(self, customer_no: str, as_of: date | None = None,
                known_at: datetime | None = None) -> dict[str, Any]:
        assignment = self.state_known_at(Assignment, identity.assignment_id(customer_no),
                                         known_at, "customer_no")
        if assignment is None:
            return {"customer_no": customer_no, "custodian": None, "chain": []}
        return assignment.as_dict(as_of or self.today())

    # ---- rulebooks ---------------------------------------------------------

    @retried_on_conflict
    def publish_rulebook(self, cmd: c.PublishRulebook) -> Receipt:
        try:
            registry: RulebookRegistry = self._load(identity.RULEBOOKS_ID)
        except AggregateNotFoundError:
            registry = RulebookRegistry(on=self.builtin.effective_from, actor=cmd.actor,
                                        reason="rulebook registry opened")
        rulebook = registry.publish(document=cmd.document, actor=cmd.actor, reason=cmd.reason,
                                    builtin=self.builtin)
        position = self._commit(registry)
        return Receipt(position, {"version": rulebook.version,
                                  "effective_from": rulebook.effective_from})

    # ---- the balance feed ---------------------------------------------------

    @retried_on_conflict
    def import_balances(self, data: bytes | str | list[BalanceRow | InvalidRow], *,
                        fmt: str | None = None, skip_invalid: bool = False, actor: str = "feed",
                        reason: str | None = None, progress: Progress | None = None
                        ) -> ImportReport:
        """Validate a whole balance feed, then write it in large transactions. On PostgreSQL a
        night's file is copied as it is decided and committed once all of it is (ADR 0028)."""
        rows = data if isinstance(data, list) else parse_feed(data, fmt)
        named = [r.customer_no for r in rows if type(r) is BalanceRow]  # one per valid row
        numbers = list(dict.fromkeys(named))
        with self._feed_lock:
            customers = self.warm_customers.get(numbers)
            refused = len(named) < len(rows) or len(customers) < len(numbers)
            if self._streams(len(named), refused, skip_invalid):
                try:
                    return self._import_streamed(rows, customers, skip_invalid=skip_invalid,
                                                 actor=actor, reason=reason, progress=progress)
                except (InterfaceError, OperationalError):
                    # The connection failed midway. Decide again on fresh state (read back:
                    # a commit whose answer was lost leaves its rows unchanged) and write
                    # as below, where the recorder retries.
                    customers = self.warm_customers.get(numbers)
            report, touched = apply_feed(rows, self._feed_loader(customers),
                                         today=self.today(), actor=actor, reason=reason)
            changed = [cu for cu in touched.values() if cu.pending_events]
            if report.invalid and not skip_invalid:
                self.warm_customers.forget(changed)
                return report

            def commit(*batch: Customer) -> int | None:
                positions = self._store(*batch)
                self.warm_customers.stored(positions)
                return max(positions) if positions else None

            try:
                return write_feed(report, changed, commit, progress,
                                  CHUNK_EVENTS[self.settings.backend])
            except BaseException:
                self.warm_customers.forget(changed)
                raise

    @staticmethod
    def _feed_loader(customers: dict[str, Customer]) -> Callable[[str], Customer]:
        def load(customer_no: str) -> Customer:
            found = customers.get(customer_no)
            if found is None:
                raise NotFound(f"customer {customer_no} not found", field="customer_no")
            return found

        return load

    def _streams(self, valid: int, refused: bool, skip_invalid: bool) -> bool:
        """Whether a feed of `valid` rows is copied to the store as its rows are decided
        (ADR 0028): on PostgreSQL, a night's file, unless it is `refused` whole already (a
        row that does not parse, a customer not found): that one is decided without taking
        the lock."""
        if not isinstance(self.recorder, BulkPostgresRecorder):
            return False
        return valid in STREAMED_ROWS and (skip_invalid or not refused)

    def _import_streamed(self, rows: list[BalanceRow | InvalidRow],
                         customers: dict[str, Customer], *, skip_invalid: bool, actor: str,
                         reason: str | None, progress: Progress | None) -> ImportReport:
        """Decide the feed's rows with each new event copied to the store as it is decided,
        in one transaction committed only once the whole file is decided: the server
        inserts while Python decides. A file refused whole is rolled back (ADR 0028)."""
        assert isinstance(self.recorder, BulkPostgresRecorder)
        loaded = list(customers.values())
        try:
            with self.recorder.copy_stream(self._stamped_encoder()) as stream:
                report, touched = apply_feed(rows, self._feed_loader(customers),
                                             today=self.today(), actor=actor, reason=reason,
                                             emitted=stream.write)
                if report.invalid and not skip_invalid:
                    self.warm_customers.forget(loaded)  # they hold events not stored
                    return report  # the stream closes unwritten: rolled back
                positions = stream.commit()
        except BaseException as e:
            self.warm_customers.forget(loaded)  # decided partly, or on stale state
            if isinstance(e, IntegrityError | RecordConflictError):
                raise ConcurrencyConflict(RACE_LOST) from e
            raise
        for customer in touched.values():
            customer.collect_events()  # stored: no longer pending
        self.warm_customers.stored(positions)
        report.position = positions[-1] if positions else None
        report.written = bool(positions)
        if progress is not None and positions:
            progress(len(positions), len(positions))
        return report

    def _stamped_encoder(self) -> Callable[[Any], StoredEvent]:
        """The mapper, each event first stamped with one recorded instant: taken at the
        first event, when the store takes the facts (the table lock is held by then)."""
        recorded_at: list[datetime] = []

        def encode(event: Any) -> StoredEvent:
            if not recorded_at:
                recorded_at.append(datetime.now(UTC))
            object.__setattr__(event, "timestamp", recorded_at[0])
            return self.mapper.to_stored_event(event)

        return encode

    # ---- time travel -------------------------------------------------------

    def state_known_at(self, cls: type[A], aggregate_id: UUID, known_at: datetime | None,
                       field: str) -> A | None:
        """The aggregate as the store knew it at `known_at` (recorded time), or now."""
        if known_at is None:
            try:
                aggregate: Any = self._load(aggregate_id)
            except AggregateNotFoundError:
                return None
            return aggregate if isinstance(aggregate, cls) else None
        state: Any = None
        for event in self.events.get(aggregate_id):
            if event.timestamp > known_at:  # type: ignore[attr-defined]
                break
            state = event.mutate(state)  # type: ignore[attr-defined]
        return state if isinstance(state, cls) else None

    def customer_view(self, customer_no: str, as_of: date | None = None,
                      known_at: datetime | None = None) -> dict[str, Any]:
        on = as_of or self.today()
        customer = self.state_known_at(Customer, identity.customer_id(customer_no), known_at,
                                       "customer_no")
        if customer is None or customer.onboarded_on > on:
            raise NotFound(f"customer {customer_no} not found"
                           + (" as of that date/instant" if as_of or known_at else ""),
                           field="customer_no")
        view = customer.as_dict(on)
        custody = self.custody(customer_no, on, known_at)
        view["custodian"] = custody["custodian"]
        view["custody"] = custody
        return view

    def manager_view(self, staff_no: str, as_of: date | None = None,
                     known_at: datetime | None = None) -> dict[str, Any]:
        on = as_of or self.today()
        manager = self.state_known_at(Manager, identity.manager_id(staff_no), known_at,
                                      "staff_no")
        if manager is None or manager.hired_on > on:
            raise NotFound(f"manager {staff_no} not found"
                           + (" as of that date/instant" if as_of or known_at else ""),
                           field="staff_no")
        return manager.as_dict(on)

    # ---- reading the whole store (for reports and projections) ------------

    def iter_notifications(self, start: int = 1, batch: int = 5000,
                           stop: int | None = None) -> Iterator[Any]:
        position = start
        while True:
            rows = self.recorder.select_notifications(position, batch, stop=stop)
            if not rows:
                return
            yield from rows
            position = rows[-1].id + 1

    @property
    def events_table(self) -> str:
        """The event store's table (read directly by projections and benchmarks)."""
        table: str = getattr(self.recorder, "events_table_name")  # noqa: B009 - not on the Protocol
        return table

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0


def mutate_in_turn(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its per-event runtime Protocol check (an
    `isinstance` against a Protocol that cost more than the mutation itself)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _basis(text: str, customer: Customer) -> Basis:
    if text == "marketed":
        return basis_for(customer.origin, customer.used_branch_resources)
    try:
        return Basis(text)
    except ValueError:
        allowed = ", ".join(["marketed", *(b.value for b in Basis)])
        raise InvalidInput(f"basis must be one of {allowed}", field="basis") from None


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

