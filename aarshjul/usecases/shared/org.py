"""The organisation as the cycle rules see it: who is active, who leads what, everyone's address."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import Person, Unit
from aarshjul.domain.enums import Role
from aarshjul.domain.progression import OrgChart, OrgPerson, OrgUnit


@dataclass(frozen=True)
class Contact:
    id: int
    email: str
    language: str


def load_org(session: Session, organisation_id: int, today: dt.date) -> tuple[OrgChart, dict[int, Contact]]:
    """The organisation as of ``today`` (who is active, who leads what) and everyone's address."""
    units = [
        OrgUnit(id=row.id, parent_id=row.parent_id, leader_id=row.leader_id, active=bool(row.active))
        for row in session.execute(
            select(Unit.id, Unit.parent_id, Unit.leader_id, Unit.active).where(Unit.organisation_id == organisation_id)
        )
    ]
    people: list[OrgPerson] = []
    contacts: dict[int, Contact] = {}
    rows = session.execute(
        select(
            Person.id,
            Person.unit_id,
            Person.role,
            Person.active_from,
            Person.active_to,
            Person.deputy_id,
            Person.email,
            Person.language,
        ).where(Person.organisation_id == organisation_id)
    )
    for row in rows:
        active = (row.active_from is None or row.active_from <= today) and (
            row.active_to is None or today <= row.active_to
        )
        people.append(OrgPerson(row.id, row.unit_id, Role(row.role), active, row.deputy_id))
        contacts[row.id] = Contact(row.id, row.email, row.language)
    return OrgChart(units, people), contacts
