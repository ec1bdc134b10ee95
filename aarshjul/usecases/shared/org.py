"""The organisation as the cycle rules see it: who is active, who leads what, everyone's address.

``load_org`` reads the whole organisation (the sweep, HR's actions); ``load_unit_org`` reads only what
the rules ask about one unit, so a submission's advance costs the same in an organisation of 500 as
of 50,000 people: the unit and the units above it (who acts for it), the units below it (whose leaders
report to its leader), its members, those units' leaders and HR.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aarshjul.db.models import Person, Unit
from aarshjul.domain.enums import Role
from aarshjul.domain.progression import OrgChart, OrgPerson, OrgUnit


@dataclass(frozen=True)
class Contact:
    id: int
    email: str
    language: str


_UNIT_COLUMNS = (Unit.id, Unit.parent_id, Unit.leader_id, Unit.active)
_PERSON_COLUMNS = (
    Person.id,
    Person.unit_id,
    Person.role,
    Person.active_from,
    Person.active_to,
    Person.deputy_id,
    Person.email,
    Person.language,
)


def _chart(units: Iterable[Any], people: Iterable[Any], today: dt.date) -> tuple[OrgChart, dict[int, Contact]]:
    org_units = [OrgUnit(id=r.id, parent_id=r.parent_id, leader_id=r.leader_id, active=bool(r.active)) for r in units]
    org_people: list[OrgPerson] = []
    contacts: dict[int, Contact] = {}
    for row in people:
        active = (row.active_from is None or row.active_from <= today) and (
            row.active_to is None or today <= row.active_to
        )
        org_people.append(OrgPerson(row.id, row.unit_id, Role(row.role), active, row.deputy_id))
        contacts[row.id] = Contact(row.id, row.email, row.language)
    return OrgChart(org_units, org_people), contacts


def load_org(session: Session, organisation_id: int, today: dt.date) -> tuple[OrgChart, dict[int, Contact]]:
    """The organisation as of ``today`` (who is active, who leads what) and everyone's address."""
    units = session.execute(select(*_UNIT_COLUMNS).where(Unit.organisation_id == organisation_id)).all()
    people = session.execute(select(*_PERSON_COLUMNS).where(Person.organisation_id == organisation_id)).all()
    return _chart(units, people, today)


def load_unit_org(
    session: Session, organisation_id: int, unit_id: int, today: dt.date
) -> tuple[OrgChart, dict[int, Contact]]:
    """The part of the organisation the cycle rules read for one unit (see the module's docstring).

    The chart answers ``direct_reports``, ``acting_leader``, ``leader_of`` and ``hr`` for this unit as
    the whole organisation's would; it knows nothing else."""
    above = select(Unit.id, Unit.parent_id).where(Unit.id == unit_id).cte("above", recursive=True)
    # UNION, not UNION ALL: a damaged tree with a loop still ends.
    above = above.union(select(Unit.id, Unit.parent_id).join(above, Unit.id == above.c.parent_id))
    units = session.execute(
        select(*_UNIT_COLUMNS).where(
            Unit.organisation_id == organisation_id,
            or_(Unit.id.in_(select(above.c.id)), Unit.parent_id == unit_id),
        )
    ).all()
    leaders = sorted({r.leader_id for r in units if r.leader_id is not None})
    people = session.execute(
        select(*_PERSON_COLUMNS).where(
            Person.organisation_id == organisation_id,
            or_(Person.unit_id == unit_id, Person.id.in_(leaders), Person.role == Role.HR),
        )
    ).all()
    return _chart(units, people, today)
