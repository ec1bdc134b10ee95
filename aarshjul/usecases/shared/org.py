"""The organisation as the cycle rules see it: who is active, who leads what, everyone's address.

``load_org`` reads the whole organisation (the full reconcile, HR's actions); ``load_org_around`` reads
only what the rules ask about some units and people, so a submission's advance costs the same in an
organisation of 500 as of 50,000 people: the unit and the units above it (who acts for it), the units
below it (whose leaders report to its leader), its members, those units' leaders and HR.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, union, union_all
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
_ABOVE = select(_U.id, _U.parent_id).where(_U.id.in_(bindparam("seeds", expanding=True))).cte("above", recursive=True)
_ABOVE = _ABOVE.union(select(_U.id, _U.parent_id).join(_ABOVE, _U.id == _ABOVE.c.parent_id))
_UNITS_AROUND = _UNITS.where(
    or_(_U.id.in_(select(_ABOVE.c.id)), _U.parent_id.in_(bindparam("unit_ids", expanding=True)))
)
# Members, the people asked about, the leaders of those units, and HR: indexed lookups, not a scan.
_PEOPLE_AROUND = union_all(
    _PEOPLE.where(_P.unit_id.in_(bindparam("unit_ids", expanding=True))),
    _PEOPLE.where(_P.id.in_(bindparam("people", expanding=True))),
    _PEOPLE.where(_P.role == Role.HR),
)
# Where the people asked about stand: their own units, and the units they lead.
_UNITS_OF_PEOPLE = union(
    select(_P.unit_id.label("id")).where(_P.id.in_(bindparam("people", expanding=True))),
    select(_U.id).where(_U.leader_id.in_(bindparam("people", expanding=True))),
)


def _chart(units: Iterable[Any], people: Iterable[Any], today: dt.date) -> tuple[OrgChart, dict[int, Contact]]:
    org_units = [OrgUnit(id=r.id, parent_id=r.parent_id, leader_id=r.leader_id, active=bool(r.active)) for r in units]
    org_people: list[OrgPerson] = []
    contacts: dict[int, Contact] = {}
    for row in people:
        active = (row.active_from is None or row.active_from <= today) and (
            row.active_to is None or today <= row.active_to
        )
        org_people.append(OrgPerson(row.id, row.unit_id, row.role, active, row.deputy_id))
        contacts[row.id] = Contact(row.id, row.email, row.language)
    return OrgChart(org_units, org_people), contacts


def load_org(session: Session, organisation_id: int, today: dt.date) -> tuple[OrgChart, dict[int, Contact]]:
    """The organisation as of ``today`` (who is active, who leads what) and everyone's address."""
    connection = session.connection()
    params = {"organisation_id": organisation_id}
    return _chart(connection.execute(_UNITS, params).all(), connection.execute(_PEOPLE, params).all(), today)


def load_org_around(
    session: Session, organisation_id: int, unit_ids: Iterable[int], person_ids: Iterable[int], today: dt.date
) -> tuple[OrgChart, dict[int, Contact]]:
    """The part of the organisation around some units and people. The chart answers, as the whole
    organisation's would, ``direct_reports``, ``acting_leader``, ``leader_of`` and ``hr`` for each unit,
    and ``manager_of`` and ``led_unit`` for each person (it holds their unit, the units they lead and
    every unit above those); it knows nothing else."""
    connection = session.connection()
    units_wanted, people = sorted(set(unit_ids)), sorted(set(person_ids))
    seeds = set(units_wanted)
    if people:
        seeds |= set(connection.execute(_UNITS_OF_PEOPLE, {"people": people}).scalars())
    params = {"organisation_id": organisation_id, "seeds": sorted(seeds), "unit_ids": units_wanted}
    units = connection.execute(_UNITS_AROUND, params).all()
    leaders = {r.leader_id for r in units if r.leader_id is not None}
    rows = connection.execute(_PEOPLE_AROUND, {**params, "people": sorted(leaders | set(people))}).all()
    # UNION ALL and this, rather than UNION: the database need not sort thousands of rows to drop
    # the few that come twice (a leader who is also a member).
    return _chart(units, {row.id: row for row in rows}.values(), today)


_CONTACTS = select(_P.id, _P.email, _P.language).where(_P.id.in_(bindparam("ids", expanding=True)))
#: Ids per statement: well under SQLite's limit on bound parameters.
_CHUNK = 5_000


def load_contacts(session: Session, person_ids: Iterable[int]) -> dict[int, Contact]:
    """The addresses of these people (whoever of them exists)."""
    wanted = sorted(set(person_ids))
    connection = session.connection()
    found: dict[int, Contact] = {}
    for start in range(0, len(wanted), _CHUNK):
        for row in connection.execute(_CONTACTS, {"ids": wanted[start : start + _CHUNK]}):
            found[row.id] = Contact(row.id, row.email, row.language)
    return found
