"""The Manager aggregate [DOMAIN §3]: registration, grades, departure, the book."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidInput
from domain.manager import Manager
from domain.values import BANDS, Grade, Role, Segment, check_band
from tests.support import HIRED, TODAY, event_names, make_manager, refuses

pytestmark = pytest.mark.unit

MAR1 = date(2026, 3, 1)
JUN1 = date(2026, 6, 1)


def register(**overrides):
    args = {"staff_no": "M1", "name": "Li Wei", "branch": "B1", "role": Role.CUSTOMER_MANAGER,
                "grade": Grade.MANAGER, "band": 2, "hired_on": HIRED, "today": TODAY, "actor": "hr"}
    args.update(overrides)
    return Manager.register(**args)


def test_registration_records_the_manager():
    manager = register(role=Role.ASSISTANT_DIAMOND, grade=Grade.SENIOR, band=4)
    events = manager.collect_events()
    assert [type(e).__name__ for e in events] == ["Registered"]
    assert (events[0].staff_no, events[0].on, events[0].actor) == ("M1", HIRED, "hr")
    assert manager.role is Role.ASSISTANT_DIAMOND
    assert manager.hired_on == HIRED
    assert manager.grade_on(HIRED) == (Grade.SENIOR, 4)
    assert manager.departed_on is None
    assert manager.book == []


def test_manager_id_is_derived_from_staff_no():
    assert register().id == register().id != register(staff_no="M2").id


def test_eleven_bands_in_all():
    assert BANDS == {Grade.TRAINEE: 1, Grade.ASSISTANT: 3, Grade.MANAGER: 3, Grade.SENIOR: 4}
    assert sum(BANDS.values()) == 11


@pytest.mark.parametrize(
    ("grade", "band"),
    [(Grade.TRAINEE, 2), (Grade.TRAINEE, 0), (Grade.ASSISTANT, 4), (Grade.MANAGER, 4),
     (Grade.SENIOR, 5), (Grade.SENIOR, 0)],
)
def test_band_outside_the_grade_is_refused(grade, band):
    with refuses("validation_error", field="band"):
        register(grade=grade, band=band)
    with pytest.raises(InvalidInput, match="band"):
        check_band(grade, band)


@pytest.mark.parametrize(("grade", "top"), list(BANDS.items()))
def test_every_band_of_a_grade_is_accepted(grade, top):
    for band in range(1, top + 1):
        assert register(grade=grade, band=band).grade_on(HIRED) == (grade, band)


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"hired_on": date(2026, 11, 2)}, "date_out_of_range", "hired_on"),
        ({"name": ""}, "validation_error", "name"),
        ({"name": " "}, "validation_error", "name"),
        ({"name": "n" * 201}, "validation_error", "name"),
    ],
)
def test_registration_refusals(overrides, code, field):
    with refuses(code, field=field):
        register(**overrides)


def test_grades_go_up_and_down_dated():
    manager = make_manager(grade=Grade.ASSISTANT, band=1)
    manager.change_grade(grade=Grade.SENIOR, band=4, on=JUN1, today=TODAY, actor="hr",
                         reason="promotion")
    manager.change_grade(grade=Grade.MANAGER, band=3, on=date(2026, 9, 1), today=TODAY,
                         actor="hr", reason="能下")
    # a back-dated change slots in by date
    manager.change_grade(grade=Grade.ASSISTANT, band=3, on=MAR1, today=TODAY, actor="hr")
    assert event_names(manager) == ["GradeChanged"] * 3
    assert manager.grade_on(date(2026, 2, 28)) == (Grade.ASSISTANT, 1)
    assert manager.grade_on(MAR1) == (Grade.ASSISTANT, 3)
    assert manager.grade_on(JUN1) == (Grade.SENIOR, 4)
    assert manager.grade_on(TODAY) == (Grade.MANAGER, 3)
    assert manager.as_dict(JUN1)["grade"] == "senior"
    assert manager.as_dict(JUN1)["band"] == 4


@pytest.mark.parametrize(
    ("grade", "band", "on", "code", "field"),
    [
        (Grade.SENIOR, 5, JUN1, "validation_error", "band"),
        (Grade.SENIOR, 1, date(2026, 11, 2), "date_out_of_range", "effective_on"),
        (Grade.SENIOR, 1, date(2019, 12, 31), "date_out_of_range", "effective_on"),
    ],
    ids=["band", "future", "before-hire"],
)
def test_grade_change_refusals(grade, band, on, code, field):
    manager = make_manager()
    with refuses(code, manager, field=field):
        manager.change_grade(grade=grade, band=band, on=on, today=TODAY, actor="hr")


def test_departure_is_recorded_even_with_customers_in_the_book():
    manager = make_manager()
    manager.take_custody(customer_no="C1", segment=Segment.CORPORATE, on=MAR1, actor="ops",
                         reason=None)
    manager.collect_events()
    manager.depart(on=JUN1, today=TODAY, actor="hr", reason="resigned")
    events = manager.collect_events()
    assert [(type(e).__name__, e.on, e.reason) for e in events] == [
        ("Departed", JUN1, "resigned")]
    assert manager.departed_on == JUN1
    assert manager.departed_by(JUN1)
    assert not manager.departed_by(date(2026, 5, 31))
    assert [e.customer_no for e in manager.current_book()] == ["C1"]
    assert manager.as_dict(date(2026, 5, 31))["departed_on"] is None
    assert manager.as_dict(JUN1)["departed_on"] == JUN1


def test_departed_manager_cannot_depart_again_or_change_grade():
    manager = make_manager()
    manager.depart(on=JUN1, today=TODAY, actor="hr")
    manager.collect_events()
    with refuses("manager_departed", manager, field="staff_no"):
        manager.depart(on=date(2026, 7, 1), today=TODAY, actor="hr")
    with refuses("manager_departed", manager, field="staff_no"):
        manager.change_grade(grade=Grade.SENIOR, band=1, on=date(2026, 5, 1), today=TODAY,
                             actor="hr")


@pytest.mark.parametrize(
    "on", [date(2026, 11, 2), date(2019, 12, 31)], ids=["future", "before-hire"])
def test_departure_date_out_of_range(on):
    manager = make_manager()
    with refuses("date_out_of_range", manager):
        manager.depart(on=on, today=TODAY, actor="hr")


def test_book_is_dated():
    manager = make_manager()
    manager.take_custody(customer_no="C1", segment=Segment.CORPORATE, on=MAR1, actor="ops",
                         reason=None)
    manager.take_custody(customer_no="C2", segment=Segment.INDIVIDUAL, on=JUN1, actor="ops",
                         reason=None)
    manager.release_custody(customer_no="C1", on=date(2026, 9, 1), actor="ops", reason=None)
    # taken back later: a second entry, the first stays closed
    manager.take_custody(customer_no="C1", segment=Segment.CORPORATE, on=date(2026, 10, 1),
                         actor="ops", reason=None)
    assert event_names(manager) == ["CustodyTaken", "CustodyTaken", "CustodyReleased",
                                    "CustodyTaken"]

    def held(on: date) -> list[str]:
        return sorted(e.customer_no for e in manager.book_on(on))

    assert held(date(2026, 2, 28)) == []
    assert held(MAR1) == ["C1"]
    assert held(JUN1) == ["C1", "C2"]
    assert held(date(2026, 8, 31)) == ["C1", "C2"]
    assert held(date(2026, 9, 1)) == ["C2"]  # release is exclusive of its date
    assert held(date(2026, 10, 1)) == ["C1", "C2"]
    assert sorted(e.customer_no for e in manager.current_book()) == ["C1", "C2"]
    assert [(e.since, e.until) for e in manager.book if e.customer_no == "C1"] == [
        (MAR1, date(2026, 9, 1)), (date(2026, 10, 1), None)]
    assert manager.as_dict(date(2026, 9, 15))["customers"] == ["C2"]
