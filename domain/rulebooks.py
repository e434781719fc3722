"""Publishing a rulebook is itself an event: who, when, effective from, the document.

One registry aggregate holds every published version, so publishing races on
one version number and two publishers cannot both claim the same version.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import identity
from domain.aggregate import BookAggregate
from domain.errors import AlreadyExists, DateOutOfRange, InvalidInput
from domain.rulebook import Rulebook, RulebookHistory, parse_rulebook


class RulebookRegistry(BookAggregate):
    TOPIC = "rmbook/RulebookRegistry"

    class Event(Aggregate.Event):
        TOPIC = "rmbook/RulebookRegistry/Event"
        on: date
        actor: str
        reason: str | None

    class Opened(Event, Aggregate.Created):
        TOPIC = "rmbook/RulebookRegistry/Opened"

    class Published(Event):
        """`on` is the version's effective date; the recorded time says when it was published."""

        TOPIC = "rmbook/RulebookRegistry/Published"
        version: str
        document: dict[str, Any]

        def apply(self, r: RulebookRegistry) -> None:
            r.documents[self.version] = self.document

    @staticmethod
    def create_id() -> UUID:
        return identity.RULEBOOKS_ID

    def __init__(self, on: date, actor: str, reason: str | None) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    def publish(self, *, document: dict[str, Any], actor: str, reason: str | None = None,
                builtin: Rulebook | None = None) -> Rulebook:
        rulebook = parse_rulebook(document)
        if rulebook.version in self.documents or (
            builtin is not None and builtin.version == rulebook.version
        ):
            raise AlreadyExists(f"rulebook version {rulebook.version} is already published",
                                field="version")
        if builtin is not None and rulebook.effective_from <= builtin.effective_from:
            raise DateOutOfRange(f"effective_from must be after {builtin.effective_from}, when the "
                               f"built-in rulebook {builtin.version} takes effect",
                               field="effective_from")
        if any(parse_rulebook(d).effective_from == rulebook.effective_from
               for d in self.documents.values()):
            raise InvalidInput(f"another version already takes effect on "
                               f"{rulebook.effective_from}", field="effective_from")
        self.trigger_event(self.Published, version=rulebook.version, document=document,
                           on=rulebook.effective_from, actor=actor, reason=reason)
        return rulebook

    def history(self, builtin: Rulebook) -> RulebookHistory:
        return RulebookHistory.of([builtin, *(parse_rulebook(d) for d in self.documents.values())])
