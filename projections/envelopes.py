"""Events as the read side sees them: position, stream, topic and decoded state.

Projections work on plain decoded dictionaries (no event objects) because a
rebuild reads millions of rows; old event shapes are upcast with the event
class's own `upcast_vN_vN+1` methods, exactly as the write side would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic

import domain.account_number
import domain.assignment
import domain.customer
import domain.manager
import domain.rulebooks  # noqa: F401 - registers every explicit topic before decoding
from application.transcoding import decode_state


@dataclass(frozen=True)
class Envelope:
    position: int
    originator_id: UUID | str
    version: int
    topic: str
    state: dict[str, Any]
    raw: bytes = b""

    @property
    def on(self) -> date:
        value: date = self.state["on"]
        return value

    @property
    def recorded_at(self) -> datetime:
        value: datetime = self.state["timestamp"]
        return value

    @property
    def kind(self) -> str:
        """'Customer/BalanceRecorded' from 'rmbook/Customer/BalanceRecorded'."""
        return self.topic.split("/", 1)[1] if self.topic.startswith("rmbook/") else self.topic


_class_versions: dict[str, tuple[int, Any]] = {}


def upcast(topic: str, state: dict[str, Any]) -> dict[str, Any]:
    """Bring an old event's state up to its class's current version."""
    found = _class_versions.get(topic)
    if found is None:
        cls = resolve_topic(topic)
        found = _class_versions[topic] = (getattr(cls, "class_version", 1), cls)
    current, cls = found
    stored = state.pop("class_version", 1)
    while stored < current:
        getattr(cls, f"upcast_v{stored}_v{stored + 1}")(state)
        stored += 1
    return state


def envelope(notification: Any) -> Envelope:
    state = decode_state(notification.state)
    if "class_version" in state:
        state = upcast(notification.topic, state)
    return Envelope(notification.id, notification.originator_id,
                    notification.originator_version, notification.topic, state,
                    bytes(notification.state))


def read(recorder: Any, after: int, limit: int, stop: int | None = None) -> list[Envelope]:
    """The next `limit` events after position `after` (up to `stop`), decoded."""
    rows = recorder.select_notifications(after + 1, limit, stop=stop)
    return [envelope(n) for n in rows]


def stream(recorder: Any, after: int = 0, batch: int = 2000,
           stop: int | None = None) -> Iterator[list[Envelope]]:
    while True:
        envelopes = read(recorder, after, batch, stop)
        if not envelopes:
            return
        yield envelopes
        after = envelopes[-1].position
