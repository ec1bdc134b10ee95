"""The audit log: who did what, newest first, filtered by kind of action."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from aarshjul.usecases.reporting.audit_log import audit_log
from service.auth import HrPageRoute, PageHr
from service.deps import LanguageDep, SessionDep
from service.pages import page
from service.queries import AuditPageQuery
from service.routes.hr.common import hr_context

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)

#: What each audited action means, for the audit log page (the code is shown beside it).
AUDIT_ACTIONS = {
    "cycle.start": "Started a cycle",
    "cycle.close": "Closed a cycle",
    "cycle.cancel": "Cancelled a cycle",
    "cycle.remind_late": "Reminded everyone late on a step",
    "deadline.extend": "Moved a deadline",
    "task.reassign": "Gave a task to someone else",
    "task.submit": "Submitted a form",
    "task.amend": "Changed a submitted form",
    "measure.approve": "Approved a measure",
    "measure.return": "Returned a measure to the unit leader",
    "task.link_revoked": "Revoked a task's link",
    "hr.sign_in": "Signed in",
    "hr.sign_out": "Signed out",
    "hr.sign_in_failed": "Sign-in failed",
    "hr.sign_in_refused": "Sign-in refused",
    "hr.sign_in_locked": "Sign-in while locked out",
    "hr.lock_out": "Locked out after repeated failures",
    "hr.password_set": "Set a password",
    "hr.token_issued": "Issued an API token",
    "hr.token_revoked": "Revoked an API token",
    "org.import": "Imported the organisation",
    "strategy.load": "Loaded the strategy",
    "personal_data.export": "Downloaded their personal data",
    "plan_review.invite": "Invited a reviewer of the competence plan",
    "plan_review.remove": "Removed a reviewer of the competence plan",
}
#: The audit log's filter: action prefixes and what they cover.
AUDIT_GROUPS = {
    "": "All events",
    "cycle.": "Cycles",
    "deadline.": "Deadlines",
    "task.": "Tasks",
    "measure.": "Measure decisions",
    "hr.": "HR sign-in and API tokens",
    "org.": "The organisation",
    "strategy.": "The strategy",
    "personal_data.": "Personal data",
    "plan_review.": "Review of the competence plan",
}


@router.get("/hr/audit")
def audit_page(
    request: Request,
    access: PageHr,
    session: SessionDep,
    language: LanguageDep,
    query: Annotated[AuditPageQuery, Query()],
) -> Response:
    action = query.action or ""
    log = audit_log(session, limit=100, offset=query.offset, action=action or None)
    groups = dict(AUDIT_GROUPS)
    groups.setdefault(action, action)  # a prefix typed into the address is kept
    context = {
        "hr": hr_context(access),
        "log": log,
        "action": action,
        "actions": AUDIT_ACTIONS,
        "groups": groups,
    }
    return page(request, "hr/audit.html", context, language)
