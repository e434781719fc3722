"""The customer manager (客户经理) and the book of customers in their custody [DOMAIN §3].

The book lives on the manager so that capacity caps are enforced under
optimistic concurrency: two assignments to the same manager race on its
version, and one of them is refused instead of both slipping past the cap
(ADR 0004).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import identity
from domain.aggregate import BookAggregate
from domain.dating import not_after_today, not_before
from domain.errors import InvalidInput, ManagerDeparted
from domain.values import Grade, Role, Segment, check_band


@dataclass
class BookEntry:
    customer_no: str
    segment: Segment
    since: date
    until: date | None = None  # custody ended on this date (exclusive)

    def held_on(self, on: date) -> bool:
        return self.since <= on and (self.until is None or on < self.until)


class Manager(BookAggregate):
    TOPIC = "rmbook/Manager"
    _flat_containers = frozenset({"grades"})

    class Event(Aggregate.Event):
        TOPIC = "rmbook/Manager/Event"
        on: date
        actor: str
        reason: str | None

    class Registered(Event, Aggregate.Created):
        TOPIC = "rmbook/Manager/Registered"
        staff_no: str
        name: str
        branch: str
        role: Role
        grade: Grade
        band: int

    class GradeChanged(Event):
        """能上能下: grades move up or down, dated."""

        TOPIC = "rmbook/Manager/GradeChanged"
        grade: Grade
        band: int

        def apply(self, m: Manager) -> None:
            m.grades.append((self.on, Grade(self.grade), self.band))
            m.grades.sort(key=lambda g: g[0])

    class Departed(Event):
        TOPIC = "rmbook/Manager/Departed"

        def apply(self, m: Manager) -> None:
            m.departed_on = self.on

    class CustodyTaken(Event):
        TOPIC = "rmbook/Manager/CustodyTaken"
        customer_no: str
        segment: Segment

        def apply(self, m: Manager) -> None:
            m.book.append(BookEntry(self.customer_no, Segment(self.segment), self.on))

    class CustodyReleased(Event):
        TOPIC = "rmbook/Manager/CustodyReleased"
        customer_no: str

        def apply(self, m: Manager) -> None:
            for entry in m.book:
                if entry.customer_no == self.customer_no and entry.until is None:
                    entry.until = self.on

    @staticmethod
    def create_id(staff_no: str) -> UUID:
        return identity.manager_id(staff_no)

    def __init__(self, staff_no: str, name: str, branch: str, role: Role, grade: Grade,
                 band: int, on: date, actor: str, reason: str | None) -> None:
        self.staff_no = staff_no
        self.name = name
        self.branch = branch
        self.role = Role(role)
        self.hired_on = on
        self.grades: list[tuple[date, Grade, int]] = [(on, Grade(grade), band)]
        self.departed_on: date | None = None
        self.book: list[BookEntry] = []

    @classmethod
    def register(cls, *, staff_no: str, name: str, branch: str, role: Role, grade: Grade,
                 band: int, hired_on: date, today: date, actor: str,
                 reason: str | None = None) -> Manager:
        not_after_today(hired_on, today, "hired_on")
        if not name.strip() or len(name) > 200:
            raise InvalidInput("name must be 1-200 characters", field="name")
        check_band(grade, band)
        return cls(staff_no=staff_no, name=name, branch=branch, role=role, grade=grade,
                   band=band, on=hired_on, actor=actor, reason=reason)

    def _check_serving(self, on: date, today: date, field: str = "on") -> None:
        not_after_today(on, today, field)
        not_before(on, self.hired_on, "the manager was hired", field)
        if self.departed_on is not None:
            raise ManagerDeparted(f"manager {self.staff_no} departed on {self.departed_on}",
                                  field="staff_no")

    def change_grade(self, *, grade: Grade, band: int, on: date, today: date, actor: str,
                     reason: str | None = None) -> None:
        self._check_serving(on, today, "effective_on")
        check_band(grade, band)
        self.trigger_event(self.GradeChanged, grade=grade, band=band, on=on, actor=actor,
                           reason=reason)

    def depart(self, *, on: date, today: date, actor: str, reason: str | None = None) -> None:
        """Recorded even while customers remain; they then need a full transfer [DOMAIN §3]."""
        self._check_serving(on, today)
        if self.book:
            not_before(on, max(e.since for e in self.book), "the manager last took custody")
        self.trigger_event(self.Departed, on=on, actor=actor, reason=reason)

    def take_custody(self, *, customer_no: str, segment: Segment, on: date, actor: str,
                     reason: str | None) -> None:
        self.trigger_event(self.CustodyTaken, customer_no=customer_no, segment=segment, on=on,
                           actor=actor, reason=reason)

    def release_custody(self, *, customer_no: str, on: date, actor: str,
                        reason: str | None) -> None:
        self.trigger_event(self.CustodyReleased, customer_no=customer_no, on=on, actor=actor,
                           reason=reason)

    # ---- queries -----------------------------------------------------------

    def departed_by(self, on: date) -> bool:
        return self.departed_on is not None and self.departed_on <= on

    def grade_on(self, on: date) -> tuple[Grade, int]:
        grade, band = self.grades[0][1], self.grades[0][2]
        for since, g, b in self.grades:
            if since <= on:
                grade, band = g, b
        return grade, band

    def book_on(self, on: date) -> list[BookEntry]:
        return [entry for entry in self.book if entry.held_on(on)]

    def current_book(self) -> list[BookEntry]:
        return [entry for entry in self.book if entry.until is None]

    def as_dict(self, on: date) -> dict[str, Any]:
        grade, band = self.grade_on(on)
        return {
            "staff_no": self.staff_no, "name": self.name, "branch": self.branch,
            "role": self.role.value, "grade": grade.value, "band": band,
            "hired_on": self.hired_on,
            "departed_on": self.departed_on if self.departed_by(on) else None,
            "customers": sorted(e.customer_no for e in self.book_on(on)),
        }
