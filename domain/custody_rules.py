"""The rules of custody (管户) and claim ratios, each named after what it enforces.

Every function either returns quietly or raises the refusal with the seed
article it comes from. The Assignment aggregate calls them before it records
anything.
"""

from __future__ import annotations

from domain.errors import CapacityExceeded, IneligibleCustodian, RatioBelowFloor
from domain.money import format_ratio
from domain.rulebook import Rulebook
from domain.values import Basis, Role, Segment


def custodian_must_be_eligible(rulebook: Rulebook, segment: Segment, role: Role,
                               field: str = "staff_no") -> None:
    """Corporate customers only to customer managers [S0 §11]; individuals per [S1 §6]."""
    allowed = rulebook.eligibility.get(segment, frozenset())
    if role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed)) or "nobody"
        raise IneligibleCustodian(
            f"a {segment.value} customer may be held by {names}, not a {role.value}",
            field=field, rule="S0 §11 / S1 §6 eligibility",
        )


def claim_ratio_must_meet_floor(rulebook: Rulebook, basis: Basis, claim_ratio: int,
                                field: str = "claim_ratio") -> None:
    """[S0 §12(1),(2),(4)] natural ≥ 0.50, public negotiated, marketed ≥ 0.80 or = 1.00."""
    floor = rulebook.floor_for(basis)
    if claim_ratio < floor:
        raise RatioBelowFloor(
            f"{field} {format_ratio(claim_ratio)} is below the floor {format_ratio(floor)} "
            f"for basis {basis.value}",
            field=field, rule=f"S0 §12 claim floor ({rulebook.version})",
        )


def handover_ratios_must_meet_floors(rulebook: Rulebook, deposit_ratio: int,
                                     non_deposit_ratio: int) -> None:
    """[S0 §12(3)] incoming share of the increment: deposits ≥ 0.60, non-deposit ≥ 0.80."""
    if deposit_ratio < rulebook.handover_deposit_floor:
        raise RatioBelowFloor(
            f"deposit_ratio {format_ratio(deposit_ratio)} is below the handover floor "
            f"{format_ratio(rulebook.handover_deposit_floor)}",
            field="deposit_ratio", rule=f"S0 §12(3) ({rulebook.version})",
        )
    if non_deposit_ratio < rulebook.handover_non_deposit_floor:
        raise RatioBelowFloor(
            f"non_deposit_ratio {format_ratio(non_deposit_ratio)} is below the handover floor "
            f"{format_ratio(rulebook.handover_non_deposit_floor)}",
            field="non_deposit_ratio", rule=f"S0 §12(3) ({rulebook.version})",
        )


def book_must_stay_within_cap(rulebook: Rulebook, role: Role, counted_now: int,
                              adds: int, field: str = "staff_no") -> None:
    """Caps [S4 §2, S1 §6]: customer_manager ≤ 50 corporate credit customers,
    assistant_private ≤ 35 and assistant_diamond ≤ 100 customers.

    `counted_now` is what the cap counts in the current book; `adds` is 1 when
    the incoming customer counts too, 0 when it does not (then the cap cannot
    be exceeded by this assignment).
    """
    cap = rulebook.caps.get(role)
    if cap is None or adds == 0:
        return
    if counted_now + adds > cap.max:
        raise CapacityExceeded(
            f"a {role.value} holds at most {cap.max} {cap.counts.replace('_', ' ')}; "
            f"this one already holds {counted_now}",
            field=field, rule=f"caps.{role.value} ({rulebook.version})",
        )


def counts_toward_cap(rulebook: Rulebook, role: Role, segment: Segment,
                      credit_customer: bool) -> bool:
    """Whether a customer counts toward the cap of a custodian's role."""
    cap = rulebook.caps.get(role)
    if cap is None:
        return False
    if cap.counts == "corporate_credit_customers":
        return segment is Segment.CORPORATE and credit_customer
    return True
