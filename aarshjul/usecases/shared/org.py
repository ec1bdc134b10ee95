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
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, union
from sqlalchemy.orm import Session

from aarshjul.db.models import Person, Unit
from aarshjul.domain.enums import Role
from aarshjul.domain.progression import OrgChart, OrgPerson, OrgUnit


@dataclass(frozen=True)
class Contact:
    id: int
    email: str
    language: str


_U = cast(Table, Unit.__table__).c
_P = cast(Table, Person.__table__).c
_UNIT_COLUMNS = (_U.id, _U.parent_id, _U.leader_id, _U.active)
_PERSON_COLUMNS = (_P.id, _P.unit_id, _P.role, _P.active_from, _P.active_to, _P.deputy_id, _P.email, _P.language)
_UNITS = select(*_UNIT_COLUMNS).where(_U.organisation_id == bindparam("organisation_id"))
_PEOPLE = select(*_PERSON_COLUMNS).where(_P.organisation_id == bindparam("organisation_id"))

# One unit's surroundings, built once (an advance after every submission reads them): the unit and
# every unit above it (UNION, not UNION ALL, so a damaged tree with a loop still ends), and the units
# right below it.
_ABOVE = select(_U.id, _U.parent_id).where(_U.id == bindparam("unit_id")).cte("above", recursive=True)
_ABOVE = _ABOVE.union(select(_U.id, _U.parent_id).join(_ABOVE, _U.id == _ABOVE.c.parent_id))
_UNITS_AROUND = _UNITS.where(or_(_U.id.in_(select(_ABOVE.c.id)), _U.parent_id == bindparam("unit_id")))
# Members, the leaders of those units, and HR: three indexed lookups rather than one scan.
_PEOPLE_AROUND = union(
    _PEOPLE.where(_P.unit_id == bindparam("unit_id")),
    _PEOPLE.where(_P.id.in_(bindparam("leaders", expanding=True))),
    _PEOPLE.where(_P.role == Role.HR),
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
    connection = session.connection()
    params = {"organisation_id": organisation_id}
    return _chart(connection.execute(_UNITS, params).all(), connection.execute(_PEOPLE, params).all(), today)


def load_unit_org(
    session: Session, organisation_id: int, unit_id: int, today: dt.date
) -> tuple[OrgChart, dict[int, Contact]]:
    """The part of the organisation the cycle rules read for one unit (see the module's docstring).

    The chart answers ``direct_reports``, ``acting_leader``, ``leader_of`` and ``hr`` for this unit as
    the whole organisation's would; it knows nothing else."""
    connection = session.connection()
    params = {"organisation_id": organisation_id, "unit_id": unit_id}
    units = connection.execute(_UNITS_AROUND, params).all()
    leaders = sorted({r.leader_id for r in units if r.leader_id is not None})
    people = connection.execute(_PEOPLE_AROUND, {**params, "leaders": leaders}).all()
    return _chart(units, people, today)
