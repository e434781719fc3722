"""The rulebook: every number the policy leaves to the bank, as data.

A rulebook document (see `rulebook-2024.json`) is parsed into frozen
dataclasses and validated whole: every problem is reported with the field
path, not just the first. Rules are looked up by business date through
`RulebookHistory.effective_on` — the version effective on that date applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.errors import RulebookInvalid
from domain.money import parse_amount, parse_ratio
from domain.values import Basis, Role, Segment

PERIODS = ("month", "quarter", "half_year", "year")
CAP_COUNTS = ("corporate_credit_customers", "customers")
BASE_WINDOWS = ("previous_half_year", "year_to_date")
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


@dataclass(frozen=True)
class TierRule:
    tier: str
    more_than: int  # credit customers strictly above this number reach the tier
    focus: str


@dataclass(frozen=True)
class Cap:
    counts: str  # "corporate_credit_customers" | "customers"
    max: int


@dataclass(frozen=True)
class VisitCadence:
    large_credit_loan_at_least: int  # fen
    large_credit: str
    credit: str
    non_credit_corporate: str


@dataclass(frozen=True)
class BranchTargets:
    new_accounts_per_week: int
    new_accounts_per_month: int
    new_basic_accounts_per_month: int


@dataclass(frozen=True)
class VipThresholds:
    avg_monthly_deposit: int  # fen
    loan_balance: int  # fen
    card_spending_12m: int  # fen


@dataclass(frozen=True)
class Rulebook:
    version: str
    effective_from: date
    tiers: tuple[TierRule, ...]  # highest tier first
    claim_floors: dict[str, int]  # ten-thousandths, keyed by Basis or handover_*
    base_window: str
    eligibility: dict[Segment, frozenset[Role]]
    caps: dict[Role, Cap]
    visits: VisitCadence
    branch_targets: BranchTargets
    vip_head_office: VipThresholds
    vip_branch_default: VipThresholds
    vip_branch_overrides: dict[str, VipThresholds] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def floor_for(self, basis: Basis) -> int:
        return self.claim_floors[basis.value]

    @property
    def handover_deposit_floor(self) -> int:
        return self.claim_floors["handover_deposit"]

    @property
    def handover_non_deposit_floor(self) -> int:
        return self.claim_floors["handover_non_deposit"]

    def tier_for(self, credit_customers: int) -> TierRule:
        """[S0 §8] the first (highest) tier whose lower bound is exceeded."""
        for rule in self.tiers:
            if credit_customers > rule.more_than:
                return rule
        return self.tiers[-1]

    def vip_branch(self, branch: str) -> VipThresholds:
        return self.vip_branch_overrides.get(branch, self.vip_branch_default)


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _get(doc: Any, key: str, path: str, problems: _Problems, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        problems.add(f"{path}{key}", "is required")
        return None
    value = doc[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        problems.add(f"{path}{key}", f"must be {name}")
        return None
    return value


def _amount(doc: Any, key: str, path: str, problems: _Problems) -> int:
    raw = _get(doc, key, path, problems, str)
    if raw is None:
        return 0
    try:
        value = parse_amount(raw, field=f"{path}{key}")
    except Exception as e:
        problems.add(f"{path}{key}", str(e))
        return 0
    if value < 0:
        problems.add(f"{path}{key}", "must not be negative")
    return value


def _vip(doc: Any, path: str, problems: _Problems) -> VipThresholds:
    return VipThresholds(
        avg_monthly_deposit=_amount(doc, "avg_monthly_deposit", path, problems),
        loan_balance=_amount(doc, "loan_balance", path, problems),
        card_spending_12m=_amount(doc, "card_spending_12m", path, problems),
    )


def parse_rulebook(document: Any) -> Rulebook:
    """Validate a rulebook document and return it typed; `RulebookInvalid` lists every problem."""
    p = _Problems()
    if not isinstance(document, dict):
        raise RulebookInvalid([("", "the rulebook must be a JSON object")])

    version = _get(document, "version", "", p, str)
    if version is not None and not _VERSION.match(version):
        p.add("version", "must match [A-Za-z0-9._-]{1,32}")
    effective_from = date.min
    raw_from = _get(document, "effective_from", "", p, str)
    if raw_from is not None:
        try:
            effective_from = date.fromisoformat(raw_from)
        except ValueError:
            p.add("effective_from", "must be an ISO date YYYY-MM-DD")

    tiers: list[TierRule] = []
    raw_tiers = _get(document, "tiers", "", p, list)
    if raw_tiers is not None:
        if not raw_tiers:
            p.add("tiers", "must list at least one tier")
        for i, t in enumerate(raw_tiers):
            path = f"tiers[{i}]."
            name = _get(t, "tier", path, p, str)
            more = _get(t, "more_than", path, p, int)
            focus = _get(t, "focus", path, p, str)
            if name is not None and more is not None and focus is not None:
                tiers.append(TierRule(name, more, focus))
        bounds = [t.more_than for t in tiers]
        if bounds != sorted(bounds, reverse=True) or len(set(bounds)) != len(bounds):
            p.add("tiers", "more_than must strictly decrease from the first (highest) tier")
        if tiers and tiers[-1].more_than >= 0:
            p.add("tiers", "the last tier must catch every count (more_than below 0)")
        if len({t.tier for t in tiers}) != len(tiers):
            p.add("tiers", "tier names must be unique")

    floors: dict[str, int] = {}
    raw_floors = _get(document, "claim_floors", "", p, dict)
    floor_keys = [b.value for b in Basis] + ["handover_deposit", "handover_non_deposit"]
    for key in floor_keys:
        raw = _get(raw_floors or {}, key, "claim_floors.", p, str) if raw_floors is not None else None
        if raw is not None:
            try:
                floors[key] = parse_ratio(raw, field=f"claim_floors.{key}")
            except Exception as e:
                p.add(f"claim_floors.{key}", str(e))

    base_window = _get(document, "base_window", "", p, str) or "previous_half_year"
    if base_window not in BASE_WINDOWS:
        p.add("base_window", f"must be one of {', '.join(BASE_WINDOWS)}")

    eligibility: dict[Segment, frozenset[Role]] = {}
    raw_elig = _get(document, "eligibility", "", p, dict)
    if raw_elig is not None:
        for segment in Segment:
            roles = _get(raw_elig, segment.value, "eligibility.", p, list)
            if roles is None:
                continue
            good: set[Role] = set()
            for r in roles:
                try:
                    good.add(Role(r))
                except ValueError:
                    p.add(f"eligibility.{segment.value}", f"unknown role {r!r}")
            eligibility[segment] = frozenset(good)

    caps: dict[Role, Cap] = {}
    raw_caps = _get(document, "caps", "", p, dict)
    for role_name, cap in (raw_caps or {}).items():
        path = f"caps.{role_name}."
        try:
            role = Role(role_name)
        except ValueError:
            p.add(f"caps.{role_name}", "unknown role")
            continue
        counts = _get(cap, "counts", path, p, str)
        maximum = _get(cap, "max", path, p, int)
        if counts is not None and counts not in CAP_COUNTS:
            p.add(f"{path}counts", f"must be one of {', '.join(CAP_COUNTS)}")
        if maximum is not None and maximum < 0:
            p.add(f"{path}max", "must not be negative")
        if counts is not None and maximum is not None:
            caps[role] = Cap(counts, maximum)

    raw_visits = _get(document, "visits", "", p, dict)
    cadences = {}
    for key in ("large_credit", "credit", "non_credit_corporate"):
        value = _get(raw_visits or {}, key, "visits.", p, str) if raw_visits is not None else None
        if value is not None and value not in PERIODS:
            p.add(f"visits.{key}", f"must be one of {', '.join(PERIODS)}")
        cadences[key] = value or "month"
    visits = VisitCadence(
        large_credit_loan_at_least=_amount(raw_visits or {}, "large_credit_loan_at_least", "visits.", p)
        if raw_visits is not None else 0,
        **cadences,
    )

    raw_targets = _get(document, "branch_targets", "", p, dict)
    target_values = {}
    for key in ("new_accounts_per_week", "new_accounts_per_month", "new_basic_accounts_per_month"):
        value = _get(raw_targets or {}, key, "branch_targets.", p, int) if raw_targets is not None else None
        if value is not None and value < 0:
            p.add(f"branch_targets.{key}", "must not be negative")
        target_values[key] = value or 0

    raw_vip = _get(document, "vip", "", p, dict)
    head = _vip(_get(raw_vip or {}, "head_office", "vip.", p, dict) or {}, "vip.head_office.", p) \
        if raw_vip is not None else _vip({}, "", _Problems())
    branch_default = _vip(
        _get(raw_vip or {}, "branch_default", "vip.", p, dict) or {}, "vip.branch_default.", p
    ) if raw_vip is not None else head
    overrides: dict[str, VipThresholds] = {}
    raw_overrides = (raw_vip or {}).get("branch_overrides", {})
    if not isinstance(raw_overrides, dict):
        p.add("vip.branch_overrides", "must be an object keyed by branch code")
        raw_overrides = {}
    for branch, thresholds in raw_overrides.items():
        overrides[branch] = _vip(thresholds, f"vip.branch_overrides.{branch}.", p)

    if p.items:
        raise RulebookInvalid(p.items)
    assert version is not None
    return Rulebook(
        version=version,
        effective_from=effective_from,
        tiers=tuple(tiers),
        claim_floors=floors,
        base_window=base_window,
        eligibility=eligibility,
        caps=caps,
        visits=visits,
        branch_targets=BranchTargets(**target_values),
        vip_head_office=head,
        vip_branch_default=branch_default,
        vip_branch_overrides=overrides,
        document=document,
    )


@dataclass(frozen=True)
class RulebookHistory:
    """All published versions; the one effective on a business date applies."""

    versions: tuple[Rulebook, ...]  # sorted by effective_from

    def effective_on(self, on: date) -> Rulebook:
        """The latest version effective on or before `on`; before the first, the first."""
        chosen = self.versions[0]
        for rulebook in self.versions:
            if rulebook.effective_from <= on:
                chosen = rulebook
            else:
                break
        return chosen

    def by_version(self, version: str) -> Rulebook | None:
        return next((r for r in self.versions if r.version == version), None)

    @staticmethod
    def of(rulebooks: list[Rulebook]) -> RulebookHistory:
        return RulebookHistory(tuple(sorted(rulebooks, key=lambda r: r.effective_from)))
