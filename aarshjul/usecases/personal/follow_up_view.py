"""The employee reads a follow-up their leader wrote about them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from aarshjul.db.models import (
    HumanTask,
    Submission,
)
from aarshjul.domain.enums import FormKey
from aarshjul.domain.errors import DomainError
from aarshjul.runtime import Runtime
from aarshjul.signing import BadToken, read_follow_up_token
from aarshjul.usecases.personal.export import _names_of
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.shared.privacy import may_read_talk
from aarshjul.usecases.shared.submissions import latest_submitted


class FollowUpNotFound(DomainError):
    """The follow-up link is not one we made for this person, or there is nothing to read yet."""


@dataclass(frozen=True)
class FollowUpView:
    employee_name: str
    leader_name: str
    submitted_at: dt.datetime
    data: dict[str, Any]
    agreed_plan: list[str]  #: the development activities agreed in the talk


def read_follow_up(runtime: Runtime, token: str) -> FollowUpView:
    """The newest submitted follow-up, for the employee it is about. Reads only."""
    now = runtime.clock()
    try:
        claims = read_follow_up_token(runtime.settings.secret(), token)
    except BadToken as exc:
        raise FollowUpNotFound("not a follow-up link") from exc
    with runtime.sessions() as session:
        task = session.get(HumanTask, claims.task_id)
        if task is None or task.form_key != FormKey.TALK_FOLLOW_UP or task.subject_person_id != claims.subject_id:
            raise FollowUpNotFound("not a follow-up link")
        if not may_read_talk(session, task, claims.subject_id, today_for(now, runtime.settings.zone)):
            raise FollowUpNotFound("not a follow-up link")
        submitted = session.scalars(
            select(Submission)
            .where(Submission.task_id == task.id, Submission.is_draft.is_(False))
            .order_by(Submission.version.desc())
            .limit(1)
        ).first()
        if submitted is None:
            raise FollowUpNotFound("nothing written yet")
        names = _names_of(session, {claims.subject_id, submitted.submitted_by_id})
        record = latest_submitted(session, task.cycle_id, FormKey.TALK_RECORD, claims.subject_id) or {}
        plan = record.get("development_plan")
        return FollowUpView(
            employee_name=names.get(claims.subject_id, ""),
            leader_name=names.get(submitted.submitted_by_id, ""),
            submitted_at=submitted.created_at,
            data=dict(submitted.data),
            agreed_plan=[str(i.get("activity", "")) for i in plan if isinstance(i, dict)]
            if isinstance(plan, list)
            else [],
        )
