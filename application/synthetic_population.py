"""Who is in the synthetic bank: branches, managers and customers, and their plans.

`plan_population` decides everything about people that does not depend on
the course of the year: roles, grades, hiring and departure dates, customer
segments, origins, who marketed whom, deposit levels, credit lines. The year
itself (`application.synthetic_bank`) then plays out on top of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from random import Random

from application.chinese_names import NameGenerator
from domain.values import BANDS, AccountType, Basis, Grade, Origin, Role, Segment, basis_for

YEAR_START = date(2025, 1, 1)
YEAR_END = date(2025, 12, 31)
ONE_DAY = timedelta(days=1)
STOCK_ONBOARDED = (date(2016, 1, 4), date(2024, 11, 29))
STAFF_HIRED = (date(2008, 3, 3), date(2024, 6, 28))
NEW_CUSTOMER_SHARE = 0.12  # customers onboarded during 2025; the rest is the existing stock
GRADE_SHARES = ((Grade.TRAINEE, 0.1), (Grade.ASSISTANT, 0.3), (Grade.MANAGER, 0.4),
                (Grade.SENIOR, 0.2))
# Individuals go mostly to retail and private-banking staff, seldom to customer managers.
ROLE_WEIGHT = {Role.CUSTOMER_MANAGER: 0.15, Role.RETAIL_MANAGER: 2.0,
               Role.ASSISTANT_PRIVATE: 2.0, Role.ASSISTANT_DIAMOND: 3.0}


@dataclass(frozen=True)
class Scale:
    name: str
    branches: int
    managers: int
    corporate: int
    individual: int
    change_rate: float  # share of days on which a customer's balance changes

    @property
    def customers(self) -> int:
        return self.corporate + self.individual


SCALES: dict[str, Scale] = {
    # Hidden scale for tests: one branch, a year in a second or two.
    "tiny": Scale("tiny", branches=1, managers=4, corporate=24, individual=6, change_rate=0.30),
    "small": Scale("small", branches=2, managers=20, corporate=500, individual=100,
                   change_rate=0.30),
    "bank": Scale("bank", branches=20, managers=400, corporate=16_000, individual=4_000,
                  change_rate=0.40),
}
PUBLIC_SCALES = ("small", "bank")


def scale_of(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown scale {name!r}; use one of {', '.join(PUBLIC_SCALES)}") from None


def weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += ONE_DAY
    return day


@dataclass(eq=False)
class Staff:
    """A manager: the plan (hiring, departure, appetite) and the book as the store will hold it."""

    staff_no: str
    name: str
    branch: str
    role: Role
    grade: Grade
    band: int
    hired_on: date
    weight: float  # appetite for customers: books differ in size, so tiers differ
    departs_on: date | None = None
    departed: bool = False
    book: dict[str, Client] = field(default_factory=dict)


@dataclass(eq=False)
class Account:
    account_no: str
    type: AccountType
    open: bool = True


@dataclass(eq=False)
class Client:
    """A customer: its plan, then its state as the store will know it on the simulated day."""

    customer_no: str
    name: str
    segment: Segment
    branch: str
    origin: Origin
    marketed_by: Staff | None
    used_branch_resources: bool
    onboarded_on: date
    level_yuan: float  # the deposit level the balance drifts around
    activity: float  # daily probability of a balance change
    credit_limit_fen: int = 0  # 0: never has credit
    credit_granted_on: date | None = None  # planned
    credit_closes_on: date | None = None  # planned
    personal_loan_fen: int = 0  # individuals: a loan without a corporate credit line
    # ---- state, as the store will know it -------------------------------------
    deposit_fen: int = 0
    loan_fen: int = 0
    accounts: list[Account] = field(default_factory=list)
    credit_since: date | None = None
    credit_until: date | None = None
    custodian: Staff | None = None
    custody_since: date | None = None
    reassigned: bool = False
    dormant: bool = False
    closed: bool = False

    @property
    def basis(self) -> Basis:
        return basis_for(self.origin, self.used_branch_resources)

    @cached_property  # the level and activity are fixed once planned
    def log_level(self) -> float:
        return math.log(self.level_yuan)

    @cached_property
    def log_no_change(self) -> float:
        return math.log(1.0 - self.activity)

    @property
    def corporate(self) -> bool:
        return self.segment is Segment.CORPORATE

    def credit_open(self, on: date) -> bool:
        """Mirrors Customer.credit_customer_on for the one line the generator grants."""
        return (self.credit_since is not None and self.credit_since <= on
                and (self.credit_until is None or on < self.credit_until))


@dataclass
class Population:
    branches: list[str]
    staff: list[Staff]
    clients: list[Client]


def day_between(rng: Random, first: date, last: date) -> date:
    """A random weekday in [first, last]: branches do business on weekdays."""
    day = first + timedelta(days=rng.randint(0, (last - first).days))
    if day.weekday() >= 5:
        friday = day - timedelta(days=day.weekday() - 4)
        day = friday if friday >= first else weekday_on_or_after(day)
    return day


def _roster(size: int) -> list[Role]:
    """Roles in a branch: mostly customer managers, a few retail and private-banking staff."""
    assistants = [Role.ASSISTANT_PRIVATE] * round(size * 0.1) if size >= 8 else []
    diamond = [Role.ASSISTANT_DIAMOND] if size >= 8 else []
    managers = [Role.CUSTOMER_MANAGER] * round(size * 0.7)
    return managers + [Role.RETAIL_MANAGER] * (size - len(managers) - len(assistants)
                                               - len(diamond)) + assistants + diamond


def _plan_staff(scale: Scale, branches: list[str], rng: Random,
                names: NameGenerator) -> list[Staff]:
    staff: list[Staff] = []
    for index, branch in enumerate(branches):
        size = scale.managers // scale.branches + (1 if index < scale.managers % scale.branches
                                                   else 0)
        for role in _roster(size):
            grade = rng.choices([g for g, _ in GRADE_SHARES], [w for _, w in GRADE_SHARES])[0]
            staff.append(Staff(
                staff_no=f"M{len(staff) + 1:04d}", name=names.person(), branch=branch,
                role=role, grade=grade, band=rng.randint(1, BANDS[grade]),
                hired_on=day_between(rng, *STAFF_HIRED), weight=rng.lognormvariate(0, 0.6)))
    _plan_new_hires(staff, rng)
    _plan_departures(staff, rng)
    return staff


def _customer_managers(staff: list[Staff], branch: str) -> list[Staff]:
    return [s for s in staff if s.branch == branch and s.role is Role.CUSTOMER_MANAGER]


def _plan_new_hires(staff: list[Staff], rng: Random) -> None:
    """~3 % of the managers join during 2025 (they then take new customers and transfers)."""
    wanted = round(len(staff) * 0.03)
    pool = [s for s in staff if s.role is Role.CUSTOMER_MANAGER
            and len(_customer_managers(staff, s.branch)) >= 5]
    for hire in rng.sample(pool, min(wanted, len(pool))):
        hire.hired_on = day_between(rng, date(2025, 2, 3), date(2025, 9, 30))
        hire.grade, hire.band = Grade.ASSISTANT, 1


def _plan_departures(staff: list[Staff], rng: Random) -> None:
    """One manager in forty leaves in 2025; each branch keeps at least two customer managers."""
    wanted = max(1, round(len(staff) / 40))
    pool = [s for s in staff if s.role in (Role.CUSTOMER_MANAGER, Role.RETAIL_MANAGER)
            and s.hired_on < YEAR_START]
    rng.shuffle(pool)
    for leaver in pool:
        if wanted == 0:
            break
        others = [s for s in _customer_managers(staff, leaver.branch)
                  if s is not leaver and s.departs_on is None and s.hired_on < YEAR_START]
        if len(others) < 2:
            continue
        leaver.departs_on = day_between(rng, date(2025, 3, 3), date(2025, 11, 14))
        leaver.weight *= 0.15  # a leaver usually had a thinner book already
        wanted -= 1


def _plan_clients(scale: Scale, branches: list[str], staff: list[Staff], rng: Random,
                  names: NameGenerator) -> list[Client]:
    clients: list[Client] = []
    staff_of = {b: [s for s in staff if s.branch == b] for b in branches}
    for segment, count in ((Segment.CORPORATE, scale.corporate),
                           (Segment.INDIVIDUAL, scale.individual)):
        # Exactly a quarter of the corporates have credit (BENCHMARKS.md).
        with_credit = set(rng.sample(range(count), round(count / 4))) \
            if segment is Segment.CORPORATE else set()
        for i in range(count):
            branch = branches[i % len(branches)]
            client = _plan_client(segment, branch, staff_of[branch], rng, names)
            if i in with_credit:
                _plan_credit(client, rng)
            clients.append(client)
    # CIF numbers grow with time: number the customers in onboarding order.
    clients.sort(key=lambda cl: cl.onboarded_on)
    for number, client in enumerate(clients, start=1):
        client.customer_no = f"C{number:06d}"
    return clients


def _plan_client(segment: Segment, branch: str, branch_staff: list[Staff], rng: Random,
                 names: NameGenerator) -> Client:
    """A customer; a marketed one names a colleague of its branch already hired by then."""
    corporate = segment is Segment.CORPORATE
    onboarded = (day_between(rng, date(2025, 1, 2), date(2025, 12, 12))
                 if rng.random() < NEW_CUSTOMER_SHARE else day_between(rng, *STOCK_ONBOARDED))
    origin = rng.choices([Origin.NATURAL, Origin.MARKETED, Origin.PUBLIC],
                         [0.45, 0.40, 0.15] if corporate else [0.6, 0.4, 0.0])[0]
    marketer = None
    if origin is Origin.MARKETED:
        eligible = [s for s in branch_staff if s.hired_on <= onboarded
                    and (s.departs_on is None or s.departs_on > onboarded)
                    and (s.role is Role.CUSTOMER_MANAGER or not corporate)]
        weights = [1.0 if corporate else ROLE_WEIGHT[s.role] for s in eligible]
        marketer = rng.choices(eligible, weights)[0] if eligible else None
        origin = Origin.MARKETED if marketer else Origin.NATURAL
    level = (rng.lognormvariate(math.log(400_000), 1.5) if corporate
             else rng.lognormvariate(math.log(250_000), 1.1))
    client = Client(
        customer_no="", name=names.company() if corporate else names.person(), segment=segment,
        branch=branch, origin=origin, marketed_by=marketer,
        used_branch_resources=marketer is not None and rng.random() < 0.5,
        onboarded_on=onboarded, level_yuan=min(max(level, 1_000.0), 2e9),
        activity=0.0)
    if not corporate and rng.random() < 0.15:
        client.personal_loan_fen = round(rng.lognormvariate(math.log(600_000), 0.7)) * 100
    return client


def _plan_credit(client: Client, rng: Random) -> None:
    """A credit line: mostly granted before 2025; a few close during the year."""
    client.credit_limit_fen = int(round(min(max(rng.lognormvariate(math.log(1_500_000), 1.0),
                                                100_000), 200_000_000), -4)) * 100
    if client.onboarded_on >= YEAR_START:
        granted = client.onboarded_on + timedelta(days=rng.randint(10, 60))
    elif rng.random() < 0.85:
        granted = day_between(rng, client.onboarded_on, date(2024, 12, 31))
    else:
        granted = day_between(rng, max(client.onboarded_on, YEAR_START), date(2025, 10, 31))
    if granted > date(2025, 12, 20):
        return
    client.credit_granted_on = max(granted, client.onboarded_on)
    if rng.random() < 0.08:
        closes = client.credit_granted_on + timedelta(days=rng.randint(60, 300))
        if YEAR_START <= closes <= YEAR_END:
            client.credit_closes_on = closes


def plan_population(scale: Scale, seed: int) -> Population:
    """Branches, managers and customers with their plans (no operations yet)."""
    rng = Random(f"rmbook-synthetic/{seed}/population")
    names = NameGenerator(Random(f"rmbook-synthetic/{seed}/names"))
    branches = [f"B{n:02d}" for n in range(1, scale.branches + 1)]
    staff = _plan_staff(scale, branches, rng, names)
    clients = _plan_clients(scale, branches, staff, rng, names)
    for client in clients:
        client.activity = min(0.95, max(0.02, scale.change_rate * rng.uniform(0.45, 1.7)))
    return Population(branches, staff, clients)
