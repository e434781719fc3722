"""The balance feed's warm customers: kept in memory between imports, always current.

A nightly feed touches most customers every day, and a customer's stream
grows by a balance a day, so reading each one from the store per import would
cost more as the year goes on. The feed keeps its customers and remembers the
position in the global sequence up to which they are known current. Before an
import it reads only what was stored since then — (stream, version) pairs —
and brings every warm customer that moved beyond the version it holds (a
visit logged, a correction made elsewhere) forward by applying just those
events. Its own writes move no one: their versions are the ones held. So
freshness costs one pass over the events written since the last import,
whatever the size of the store (ADR 0010).

Correctness never rests on the cache: a change that races a save collides on
(stream, version) in the store and the import is refused, never lost.

A customer not warm is read from its latest snapshot and the events after it
(ADR 0024): a fresh process's first night reads a few events a customer, not a
year of balances. Where a cold customer had `SNAPSHOT_AFTER` events or more to
fold, a snapshot of it as stored is written for the next cold reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from application.bulk_reads import moved_since, stored_at, stored_streams, stream_key
from application.snapshot_store import latest_snapshots, put_snapshots
from domain import identity
from domain.customer import Customer
from domain.customer_snapshot import CustomerSnapshot, StaleSnapshot

# Events folded on a cold load that make a new snapshot worth its write: a few kilobytes
# of state against this many events decoded by every later cold reader.
SNAPSHOT_AFTER = 30


class WarmCustomers:
    def __init__(self, recorder: Any, mapper: Any, limit: int,
                 snapshots: Any | None = None) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.limit = limit
        self.snapshots = snapshots  # the snapshot store's recorder, if snapshots are kept
        self.customers: dict[str, Customer] = {}  # stream key → customer
        # The same customers by customer_no: a feed names ~8,000 a night, and finding each by
        # number costs a dict lookup, not its stream id's derivation and spelling.
        self.by_number: dict[str, Customer] = {}
        self.current_to = 0  # every event up to this position is reflected above

    def get(self, numbers: list[str]) -> dict[str, Customer]:
        """The customers of `numbers` that exist, by customer_no, current as of now."""
        self._catch_up()
        found: dict[str, Customer] = {}
        cold = []
        warm = self.by_number
        for no in numbers:
            customer = warm.get(no)
            if customer is None:
                cold.append(no)
            else:
                found[no] = customer
        cold.sort()  # read in a stable order, whatever order the file named them in
        for customer in self._cold([identity.customer_id(no) for no in cold]):
            self._keep(customer)
            found[customer.customer_no] = customer
        while len(self.customers) > self.limit:  # oldest first: dicts keep insertion order
            self._drop(next(iter(self.customers)))
        return found

    def _keep(self, customer: Customer) -> None:
        self.customers[stream_key(customer.id)] = customer
        self.by_number[customer.customer_no] = customer

    def _drop(self, key: str) -> None:
        customer = self.customers.pop(key, None)
        if customer is not None:
            self.by_number.pop(customer.customer_no, None)

    def _cold(self, streams: list[Any]) -> list[Customer]:
        """Customers read from the store: each from its latest snapshot, if any, and the
        events after it. Those that needed many events are snapshotted as read."""
        start: dict[Any, Customer] = {}
        if self.snapshots is not None and streams:
            for stream, snapshot in latest_snapshots(self.snapshots, streams).items():
                with suppress(StaleSnapshot):  # another format: folded from the first event
                    start[stream] = self.mapper.to_domain_event(snapshot).mutate(None)
        after = {stream: customer.version for stream, customer in start.items()}
        loaded: list[Customer] = []
        worth_a_snapshot: list[Customer] = []
        for stream, stored in stored_streams(self.recorder, streams, after).items():
            aggregate: Any = start.pop(stream, None)
            for stored_event in stored:
                aggregate = self.mapper.to_domain_event(stored_event).mutate(aggregate)
            if isinstance(aggregate, Customer):
                loaded.append(aggregate)
                if len(stored) >= SNAPSHOT_AFTER:
                    worth_a_snapshot.append(aggregate)
        loaded += start.values()  # nothing stored after their snapshot
        self._snapshot(worth_a_snapshot)
        return loaded

    def _snapshot(self, customers: list[Customer]) -> None:
        if self.snapshots is not None and customers:
            put_snapshots(self.snapshots, [self.mapper.to_stored_event(CustomerSnapshot.take(c))
                                           for c in customers])

    def _catch_up(self) -> None:
        head = self.recorder.max_notification_id() or 0
        if not self.customers:
            self.current_to = head
            return
        newer: list[int] = []
        for position, stream, version in moved_since(self.recorder, self.current_to, head):
            customer = self.customers.get(stream)
            if customer is not None and version > customer.version:
                newer.append(position)
        for stored in stored_at(self.recorder, newer):
            key = stream_key(stored.originator_id)
            customer = self.customers.get(key)
            if customer is None:
                continue
            try:
                self.mapper.to_domain_event(stored).mutate(customer)
            except Exception:  # out of order or not a customer event: read it afresh later
                self._drop(key)
        self.current_to = head

    def stored(self, positions: Sequence[int]) -> None:
        """The feed's own write landed at `positions`. When they follow straight on from
        `current_to`, no one else wrote in between and the warm customers already hold
        what was written, so the next catch-up need not read those events back."""
        following = range(self.current_to + 1, self.current_to + len(positions) + 1)
        if positions and list(positions) == list(following):
            self.current_to = following[-1]

    def forget(self, customers: list[Customer]) -> None:
        """Drop customers whose in-memory changes were not stored (refused or failed)."""
        for customer in customers:
            self._drop(stream_key(customer.id))
