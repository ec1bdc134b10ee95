"""What HR's decision on a measure proposal makes: the measure approved, or returned to the leader
with the comment (their proposal task opens again and they are told why). Audited on the measure."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    HumanTask,
    Measure,
)
from aarshjul.domain.enums import FormKey, MeasureState, TaskState
from aarshjul.domain.errors import Conflict, NotFound
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.shared.mail import message_to
from aarshjul.usecases.shared.org import load_org
from aarshjul.usecases.shared.writes import audit
from forms.fields import FormModel
from forms.models import (
    MeasureApprovalForm,
    MeasureDecision,
)
from notifications.outbox import enqueue_many

_REVISION = re.compile(r":r(\d+)$")


def project_decision(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    form = cast(MeasureApprovalForm, form)
    measure = session.get(Measure, task.measure_id) if task.measure_id is not None else None
    if measure is None:
        raise NotFound(f"task {task.id} names no measure")
    found = _REVISION.search(task.natural_key)
    asked_for = int(found.group(1)) if found else measure.revision
    if measure.state != MeasureState.PROPOSED or measure.revision != asked_for:
        raise Conflict("the proposal has changed since this approval was asked for; a new approval task follows")
    before = _decision_facts(measure)
    measure.hr_comment, measure.decided_at = form.comment, now
    if form.decision is MeasureDecision.APPROVE:
        measure.state = MeasureState.APPROVED
    else:
        measure.state = MeasureState.RETURNED
        _return_proposal(session, runtime, task, measure, now)
    # The decision on the measure itself, beside the approval task's task.submit: the audit log
    # answers "who approved this measure, which revision, with what comment" without joining tasks.
    action = "measure.approve" if form.decision is MeasureDecision.APPROVE else "measure.return"
    audit(session, now, f"person:{actor_id}", action, "measure", measure.id, before, _decision_facts(measure))
    return form.model_dump(mode="json")


def _decision_facts(measure: Measure) -> dict[str, Any]:
    return {"state": measure.state, "revision": measure.revision, "hr_comment": measure.hr_comment}


def _return_proposal(
    session: Session, runtime: Runtime, approval: HumanTask, measure: Measure, now: dt.datetime
) -> None:
    """The leader's proposal task opens again (same link) and the leader is told why."""
    proposals = list(
        session.scalars(
            select(HumanTask).where(
                HumanTask.cycle_id == approval.cycle_id,
                HumanTask.unit_id == approval.unit_id,
                HumanTask.form_key == FormKey.MEASURE_PROPOSAL,
                HumanTask.state == TaskState.SUBMITTED,
            )
        )
    )
    cycle = session.get(Cycle, approval.cycle_id)
    if cycle is None:
        return
    _org, contacts = load_org(session, cycle.organisation_id, today_for(now, runtime.settings.zone))
    messages = []
    for proposal in proposals:
        proposal.state = TaskState.RETURNED
        contact = contacts.get(proposal.assignee_id)
        if contact is not None:
            key = f"measure_returned:t{proposal.id}:m{measure.id}:r{measure.revision}"
            context = {"task_id": proposal.id, "measure_id": measure.id}
            messages.append(message_to(contact, key, "measure_returned", context, now))
    enqueue_many(session, messages, now)
