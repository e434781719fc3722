"""Branch scoping (API.md, Auth): outside the principal's branches a resource does not exist.

A customer or manager in a branch the principal may not see is answered
exactly like an unknown one (404 `not_found`, same message), so a 404 never
tells that it exists. Creating something in a branch the principal may not
change is a 403: the caller named the branch, nothing is revealed.
"""

from __future__ import annotations

from application.service import BookOfBusiness
from domain.errors import NotFound
from interfaces.http.auth import Principal, Role
from interfaces.http.errors import ProblemError


def customer_branch(bank: BookOfBusiness, principal: Principal, customer_no: str,
                    field: str = "customer_no") -> str:
    """The customer's branch, if the principal may see it; else 404."""
    branch = bank.branch_of_customer(customer_no)
    if branch is None or not principal.sees(branch):
        raise NotFound(f"customer {customer_no} not found", field=field)
    return branch


def manager_branch(bank: BookOfBusiness, principal: Principal, staff_no: str,
                   field: str = "staff_no") -> str:
    branch = bank.branch_of_manager(staff_no)
    if branch is None or not principal.sees(branch):
        raise NotFound(f"manager {staff_no} not found", field=field)
    return branch


def visible_branch(principal: Principal, branch: str, field: str = "branch") -> None:
    if not principal.sees(branch):
        raise NotFound(f"branch {branch} not found", field=field)


def may_change_branch(principal: Principal, branch: str) -> None:
    if not principal.sees(branch):
        raise ProblemError("forbidden", f"{principal.name} may not make changes in branch "
                           f"{branch}", errors=[{"field": "branch",
                                                 "message": "outside the principal's branches"}])


def branch_filter(principal: Principal, branch: str | None) -> str | None:
    """A report's `branch` query: checked when given; for a principal of one branch, that one."""
    if branch is not None:
        visible_branch(principal, branch)
        return branch
    if principal.all_branches:
        return None
    if len(principal.branches) == 1:
        return next(iter(principal.branches))
    raise ProblemError("validation_error", "branch is required: the principal sees several "
                       "branches, not all", errors=[{"field": "branch",
                                                    "message": "required for this principal"}])


def may_log_visit(bank: BookOfBusiness, principal: Principal, customer_no: str,
                  staff_no: str) -> None:
    """A manager logs visits only as itself, for customers in its own custody now."""
    if principal.role is not Role.MANAGER:
        return
    if staff_no != principal.staff_no:
        raise ProblemError("forbidden", "a manager logs only its own visits",
                           errors=[{"field": "staff_no", "message": "must be your staff_no"}])
    if bank.custody(customer_no)["custodian"] != principal.staff_no:
        raise ProblemError("forbidden", f"customer {customer_no} is not in your custody",
                           errors=[{"field": "customer_no", "message": "not in your custody"}])
