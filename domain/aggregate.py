"""The base of rmbook's aggregates: the library's `Aggregate`, with cheaper event building.

A nightly balance feed triggers millions of events. The library's
`trigger_event` builds each through the frozen dataclass `__init__` (one
`object.__setattr__` per field) and re-checks the class's topic registration
every time; together that is most of the cost of recording a balance. Here a
class is checked once, and an event whose arguments are exactly its fields is
built by filling its `__dict__` directly — the same object the constructor
makes (tested), with the library's one post-init check (a UUID originator id)
kept. Anything else (defaults, extra or missing arguments, a class with its own
`__post_init__`) goes through the constructor as before.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import (
    Aggregate,
    DomainEvent,
    ProgrammingError,
    _check_explicit_topic_is_registered,
)

_fields: dict[type, frozenset[str] | None] = {}


def _direct_fields(event_class: type) -> frozenset[str] | None:
    """The init fields of a class that can be built directly, or None."""
    if event_class not in _fields:
        direct = (dataclasses.is_dataclass(event_class)
                  and event_class.__post_init__ is DomainEvent.__post_init__  # type: ignore[attr-defined]
                  and "__slots__" not in vars(event_class))
        _fields[event_class] = frozenset(
            f.name for f in dataclasses.fields(event_class) if f.init) if direct else None
    return _fields[event_class]


def build_event(event_class: type, kwargs: dict[str, Any]) -> Any:
    names = _direct_fields(event_class)
    if names is None or kwargs.keys() != names:
        return event_class(**kwargs)
    if not isinstance(kwargs["originator_id"], UUID):  # DomainEvent.__post_init__
        raise TypeError(f"{event_class} was initialized with a non-UUID originator_id: "
                        f"{kwargs['originator_id']!r}")
    event: Any = object.__new__(event_class)
    event.__dict__.update(kwargs)
    return event


_checked: set[type] = set()


class BookAggregate(Aggregate):
    # Containers that hold only immutable values (ints, dates, enums, tuples of them,
    # frozen dataclasses): a copy of the container is a deep copy. The library's cache
    # deep-copies an aggregate on every read for a command, and a customer's year of
    # balances made that copy cost milliseconds (ADR 0010).
    _flat_containers: ClassVar[frozenset[str]] = frozenset()

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        flat = self._flat_containers
        clone.__dict__.update({
            name: copy.copy(value) if name in flat else copy.deepcopy(value, memo)
            for name, value in self.__dict__.items()})
        return clone

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        """As `Aggregate.trigger_event`: the next version, stamped now, applied, pending."""
        if event_class not in _checked:
            if event_class.__name__ == "Event":
                raise ProgrammingError("Triggering base 'Event' class is prohibited.")
            _check_explicit_topic_is_registered(event_class)  # once per class, not per event
            _checked.add(event_class)
        kwargs["originator_id"] = self.id
        kwargs["originator_version"] = self.version + 1
        if kwargs.get("timestamp") is None:
            kwargs["timestamp"] = event_class.create_timestamp()
        event = build_event(event_class, kwargs)
        event.mutate(self)
        self.pending_events.append(event)
