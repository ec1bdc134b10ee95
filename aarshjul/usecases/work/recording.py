"""Recording a checked form as a new version of its task and projecting it, in the caller's transaction.

A double click (the same input again, no ids yet) is recognised and stores nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from aarshjul.db.models import (
    HumanTask,
    Submission,
)
from aarshjul.domain.enums import TaskState
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import audit
from aarshjul.usecases.work.links import latest_version, next_version
from aarshjul.usecases.work.projections import PROJECTIONS
from aarshjul.usecases.work.talk_booking import book_talk
from forms.fields import FormModel
from forms.models import (
    TalkRecordForm,
)


@dataclass(frozen=True)
class Receipt:
    task_id: int
    version: int
    submitted_at: dt.datetime
    state: str
    repeated: bool = False  #: the same data was already submitted; nothing new was stored
    invited: bool = False  #: a (new or changed) time of the talk went out as a calendar invitation


def fingerprint(data: Any) -> str:
    """What a version says, leaving out the ids the system filled in, so a double click (same input,
    no ids yet) is recognised as the submission it repeats."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "id"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    text = json.dumps(strip(data), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def record_version(
    session: Session,
    runtime: Runtime,
    task: HumanTask,
    form: FormModel,
    actor_id: int,
    now: dt.datetime,
) -> Receipt:
    data = form.model_dump(mode="json")
    if task.state == TaskState.SUBMITTED:
        latest = latest_version(session, task.id, submitted_only=True)
        if latest is not None and fingerprint(latest.data) == fingerprint(data):
            return Receipt(task.id, latest.version, latest.created_at, task.state, repeated=True)
    project = PROJECTIONS.get(task.form_key)
    if project is not None:
        data = project(session, runtime, task, form, now, actor_id)
    version = next_version(session, task.id)
    invited = False
    if isinstance(form, TalkRecordForm):
        invited = book_talk(session, runtime, task, form, version, now)
    before = task.state
    connection = session.connection()
    connection.execute(
        _NEW_VERSION,
        {"task_id": task.id, "version": version, "data": data, "actor": actor_id, "created_at": now},
    )
    # A statement of its own rather than the ORM's flush of the changed object: the same UPDATE
    # without the unit-of-work machinery, on the path every submission takes.
    connection.execute(_SUBMITTED, {"task_id": task.id, "submitted_at": now})
    set_committed_value(task, "state", TaskState.SUBMITTED)
    set_committed_value(task, "submitted_at", now)
    audit(
        session,
        now,
        f"person:{actor_id}",
        "task.submit" if before != TaskState.SUBMITTED else "task.amend",
        "task",
        task.id,
        before={"state": before},
        after={"state": task.state, "version": version},
    )
    return Receipt(task.id, version, now, task.state, invited=invited)


_SUBMISSION = cast(Table, Submission.__table__).c
_TASK = cast(Table, HumanTask.__table__).c
_NEW_VERSION = insert(cast(Table, Submission.__table__)).values(
    task_id=bindparam("task_id"),
    version=bindparam("version"),
    is_draft=False,
    data=bindparam("data", type_=_SUBMISSION.data.type),
    submitted_by_id=bindparam("actor"),
    created_at=bindparam("created_at", type_=_SUBMISSION.created_at.type),
)
_SUBMITTED = (
    update(cast(Table, HumanTask.__table__))
    .where(_TASK.id == bindparam("task_id"))
    .values(state=TaskState.SUBMITTED, submitted_at=bindparam("submitted_at", type_=_TASK.submitted_at.type))
)
