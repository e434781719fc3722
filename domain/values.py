"""Value types named as in the policy: segments, origins, roles, grades …

Enums are `StrEnum`s so they are stored in events as their plain value and
read back unchanged; the spellings are the API's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TypeVar

from domain.errors import InvalidInput

E = TypeVar("E", bound=StrEnum)
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
REASON_MAX = 500
NOTES_MAX = 2000


class Segment(StrEnum):
    CORPORATE = "corporate"  # 对公
    INDIVIDUAL = "individual"  # 个人


class Origin(StrEnum):
    """How the customer came to the bank [S0 §11]."""

    NATURAL = "natural"  # 自然增长
    MARKETED = "marketed"  # 自己营销 / 非自然增长
    PUBLIC = "public"  # 公共资源户


class AccountType(StrEnum):
    BASIC = "basic"  # 基本户
    GENERAL = "general"  # 一般户
    SPECIAL = "special"  # 专用户
    TEMPORARY = "temporary"  # 临时户


class Role(StrEnum):
    CUSTOMER_MANAGER = "customer_manager"
    RETAIL_MANAGER = "retail_manager"
    ASSISTANT_PRIVATE = "assistant_private"
    ASSISTANT_DIAMOND = "assistant_diamond"
    OTHER_STAFF = "other_staff"


class Grade(StrEnum):
    """Grades and their bands [S4, 2005 rules §3]: 11 bands in all."""

    TRAINEE = "trainee"
    ASSISTANT = "assistant"
    MANAGER = "manager"
    SENIOR = "senior"


BANDS: dict[Grade, int] = {
    Grade.TRAINEE: 1,
    Grade.ASSISTANT: 3,
    Grade.MANAGER: 3,
    Grade.SENIOR: 4,
}


class ActivityStatus(StrEnum):
    NORMAL = "normal"
    DORMANT = "dormant"  # 睡眠户


class Service(StrEnum):
    PAYROLL = "payroll"  # 代发工资
    E_BANKING = "e_banking"  # 企业网银


class Channel(StrEnum):
    ON_SITE = "on_site"
    PHONE = "phone"
    SMS = "sms"
    ONLINE = "online"


class Purpose(StrEnum):
    ROUTINE = "routine"  # 常规拜访
    BUSINESS = "business"  # 业务拜访


class Basis(StrEnum):
    """Basis of a claim ratio [S0 §12]; names match the rulebook's claim_floors."""

    NATURAL = "natural"
    PUBLIC = "public"
    MARKETED_WITH_BRANCH_RESOURCES = "marketed_with_branch_resources"
    MARKETED_WITHOUT_BRANCH_RESOURCES = "marketed_without_branch_resources"


class ReassignmentMode(StrEnum):
    HANDOVER = "handover"  # 他人移交: stock stays, increment shared
    FULL = "full"  # 整体移交: the whole customer moves


def identifier(value: str, field: str) -> str:
    """customer_no, staff_no, account_no, branch: `[A-Za-z0-9_-]{1,32}`."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise InvalidInput(f"{field} must match [A-Za-z0-9_-]{{1,32}}, got {value!r}", field=field)
    return value


def choice(enum: type[E], value: str, field: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(f"{field} must be one of {allowed}, got {value!r}", field=field) from None


def reason_text(reason: str | None) -> str | None:
    if reason is not None and len(reason) > REASON_MAX:
        raise InvalidInput(f"reason is at most {REASON_MAX} characters", field="reason")
    return reason


def actor_text(actor: str) -> str:
    if not actor or len(actor) > 64:
        raise InvalidInput("actor must name who issued the command (1-64 chars)", field="actor")
    return actor


def check_band(grade: Grade, band: int) -> int:
    top = BANDS[grade]
    if not 1 <= band <= top:
        raise InvalidInput(f"band of grade {grade} must be 1..{top}, got {band}", field="band")
    return band


@dataclass(frozen=True)
class Stamp:
    """Who issued a command and why: kept on every event."""

    actor: str
    reason: str | None = None


def basis_for(origin: Origin, used_branch_resources: bool) -> Basis:
    """The claim basis implied by a customer's origin [S0 §11–12]."""
    if origin is Origin.NATURAL:
        return Basis.NATURAL
    if origin is Origin.PUBLIC:
        return Basis.PUBLIC
    if used_branch_resources:
        return Basis.MARKETED_WITH_BRANCH_RESOURCES
    return Basis.MARKETED_WITHOUT_BRANCH_RESOURCES


def month_key(on: date) -> str:
    return f"{on.year:04d}-{on.month:02d}"
