"""Events never change meaning: stable explicit topics, and old shapes upcast on read (ADR 0005)."""

from __future__ import annotations

import inspect
from datetime import date
from typing import Any
from uuid import uuid4

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

import domain.account_number
import domain.assignment
import domain.customer
import domain.manager
import domain.rulebooks
from application.transcoding import OrjsonTranscoder
from projections.envelopes import envelope

AGGREGATES = [domain.customer.Customer, domain.manager.Manager, domain.assignment.Assignment,
              domain.rulebooks.RulebookRegistry, domain.account_number.AccountNumber]


def event_classes(aggregate: type) -> list[type]:
    """The events an aggregate records. `Event` and the library's auto-defined `Created`
    are abstract bases: never triggered, never stored."""
    return [value for name, value in vars(aggregate).items()
            if inspect.isclass(value) and issubclass(value, CanMutateAggregate)
            and name not in ("Event", "Created")]


def test_every_aggregate_and_event_has_its_own_stable_topic() -> None:
    topics: dict[str, type] = {}
    for aggregate in AGGREGATES:
        for cls in [aggregate, *event_classes(aggregate)]:
            # (the library re-creates an event class under the aggregate's base Event; the
            # copy inherits the declared TOPIC, and the topic resolves to the copy)
            topic = getattr(cls, "TOPIC", None)
            assert topic, f"{cls.__qualname__} declares no TOPIC"
            assert topic.startswith("rmbook/")
            assert "domain." not in topic  # never a module path: moving code breaks nothing
            assert topic not in topics, f"{topic} used by {topics.get(topic)} and {cls}"
            topics[topic] = cls
            assert resolve_topic(topic) is cls
    assert "rmbook/Customer/BalanceRecorded" in topics
    assert "rmbook/Assignment/Reassigned" in topics


def test_stored_events_name_the_topic_not_the_module() -> None:
    customer = domain.customer.Customer(
        customer_no="C1", name="n", segment=domain.customer.Segment.CORPORATE, branch="B1",
        origin=domain.customer.Origin.NATURAL, marketed_by=None, used_branch_resources=False,
        on=date(2026, 1, 1), actor="a", reason=None)
    customer.record_balance(on=date(2026, 1, 2), deposit_fen=5, loan_fen=0,
                            today=date(2026, 2, 1), actor="feed")
    from eventsourcing.persistence import Mapper

    mapper: Mapper[Any] = Mapper(transcoder=OrjsonTranscoder())
    stored = [mapper.to_stored_event(e) for e in customer.collect_events()]
    assert [s.topic for s in stored] == ["rmbook/Customer/Onboarded",
                                         "rmbook/Customer/BalanceRecorded"]


class Ledger(Aggregate):
    """A stand-in for an aggregate whose event grew a field in version 2."""

    TOPIC = "rmbook-test/Ledger"

    class Event(Aggregate.Event):
        TOPIC = "rmbook-test/Ledger/Event"

    class Opened(Aggregate.Created):
        TOPIC = "rmbook-test/Ledger/Opened"

    class Noted(Event):
        TOPIC = "rmbook-test/Ledger/Noted"
        class_version = 2
        amount_fen: int
        channel: str  # new in version 2; older events were all from the feed

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["channel"] = "feed"

        def apply(self, ledger: Ledger) -> None:
            ledger.notes.append((self.amount_fen, self.channel))

    def __init__(self) -> None:
        self.notes: list[tuple[int, str]] = []


def _v1_stored(stream: Any) -> list[StoredEvent]:
    """Rows as an older release stored them: Noted without `channel`, no class_version."""
    transcoder = OrjsonTranscoder()
    opened = Ledger()
    created = opened.collect_events()[0]
    state = {k: v for k, v in vars(created).items() if k not in ("originator_id",
                                                                  "originator_version")}
    old = {"timestamp": state["timestamp"], "amount_fen": 700}
    return [StoredEvent(stream, 1, "rmbook-test/Ledger/Opened", transcoder.encode(state)),
            StoredEvent(stream, 2, "rmbook-test/Ledger/Noted", transcoder.encode(old))]


def test_an_old_event_is_upcast_when_the_write_side_reads_it() -> None:
    from eventsourcing.persistence import Mapper

    stream = uuid4()
    mapper: Mapper[Any] = Mapper(transcoder=OrjsonTranscoder())
    events = [mapper.to_domain_event(s) for s in _v1_stored(stream)]
    ledger = None
    for event in events:
        ledger = event.mutate(ledger)  # type: ignore[attr-defined]
    assert isinstance(ledger, Ledger)
    assert ledger.notes == [(700, "feed")]


def test_an_old_event_is_upcast_when_the_read_side_decodes_it() -> None:
    noted = _v1_stored(uuid4())[1]
    state = envelope(2, noted.originator_id, 2, noted.topic, noted.state).state
    assert (state["amount_fen"], state["channel"]) == (700, "feed")
    # and a current (version 2) row passes through untouched
    current = OrjsonTranscoder().encode({"amount_fen": 1, "channel": "branch", "class_version": 2})
    state = envelope(3, noted.originator_id, 3, noted.topic, current).state
    assert (state["amount_fen"], state["channel"]) == (1, "branch")
