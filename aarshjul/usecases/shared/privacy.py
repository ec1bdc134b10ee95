"""Who may read talk notes: the employee and their leader, never HR or another leader."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    HumanTask,
    Person,
)
from aarshjul.domain.enums import Role
from aarshjul.usecases.shared.org import load_org_around


def may_read_talk(session: Session, task: HumanTask, viewer_id: int, today: dt.date) -> bool:
    """Talk notes are for the employee and their leader only; never HR or another leader."""
    subject = task.subject_person_id
    if subject is None or viewer_id == subject:
        return viewer_id == subject
    viewer = session.get(Person, viewer_id)
    if viewer is None or viewer.role == Role.HR:
        return False
    cycle = session.get(Cycle, task.cycle_id)
    if cycle is None:
        return False
    org, _contacts = load_org_around(session, cycle.organisation_id, [task.unit_id], [subject, viewer_id], today)
    return viewer_id in (org.manager_of(subject), org.acting_leader(task.unit_id))
