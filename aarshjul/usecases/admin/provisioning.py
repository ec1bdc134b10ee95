"""SCIM provisioning (RFC 7644): an identity system (Microsoft Entra ID, an HR system) keeps the
organisation's people and units up to date, under the same rules as the organisation file.

Each request is one transaction: a request that breaks a rule changes nothing and is answered with a
SCIM error. A User or Group is kept as its client wrote it (``ScimUser.resource``), so the client reads
back what it sent, and projected onto the organisation:

- a Group is a unit: its ``displayName`` the unit's name, Årshjul's extension its code, leader and the
  unit above (a unit tree with a cycle, or a reference to a resource that does not exist, is refused);
- a User becomes a person once they have an email address (a ``emails`` value, else a ``userName`` that
  is one) and a unit (the unit they lead, else the one group they are a member of: a person belongs to
  one unit, so a second group is refused). Until then they exist only as a SCIM resource. An existing
  person (from an earlier file import) is taken over when the employee number, else the email, matches.
- a User set ``active: false`` or deleted is a leaver, exactly as when the file no longer lists them:
  their history stays, their open tasks go to their deputy or leader (``handle_leavers``), HR is told.
  ``active: true`` again brings them back. Losing a group does not make a leaver: a person keeps their
  unit until another group places them (Entra moves people between groups in two requests).
- Deleting a Group deactivates its unit; its people keep it until placed in another.

Writes to the organisation (SCIM and the file import) are serialised, so checks of uniqueness hold.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from scim2_models import (
    Context,
    Group,
    InvalidFilterException,
    InvalidValueException,
    Meta,
    NotFoundException,
    PatchOp,
    PreconditionFailedException,
    SCIMException,
    ScimFilter,
    UniquenessException,
    User,
)
from scim2_models.path import CompareOperator, Comparison, LogicalExpr, LogicalOperator
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Organisation, Person, ScimGroup, ScimMember, ScimUser, Unit
from aarshjul.domain.addresses import EMAIL, normalise_email
from aarshjul.domain.enums import Role
from aarshjul.domain.phones import mobile_or_none
from aarshjul.presentation.i18n import language_of
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from aarshjul.usecases.admin.scim_schema import (
    DEFAULT_COUNT,
    ENTERPRISE_EXTENSION,
    MAX_RESULTS,
    AarshjulGroup,
    AarshjulUser,
    GroupModel,
    UserModel,
    reference_id,
)
from aarshjul.usecases.admin.task_admin import handle_leavers
from aarshjul.usecases.shared.advances import owe_full_reconcile
from aarshjul.usecases.shared.writes import ORGANISATION_LOCK, audit, serialize

SCIM_PATH = "/scim/v2"
HR_ROLE = "hr"
CODE_LENGTH = 64

R = TypeVar("R", ScimUser, ScimGroup)


@dataclass(frozen=True)
class ResourcePage:
    """One page of a list: the resources on it and how many matched in all."""

    total: int
    start_index: int
    resources: list[Any]


# --- reading ---------------------------------------------------------------------------------------


def _location(settings: Settings, kind: str, rid: str) -> str:
    return f"{settings.base_url}{SCIM_PATH}/{kind}/{rid}"


def etag_of(version: int) -> str:
    return f'W/"{version}"'


def _meta(settings: Settings, kind: str, row: ScimUser | ScimGroup) -> Meta:
    return Meta(
        resource_type=kind[:-1],
        created=row.created_at,
        last_modified=row.updated_at,
        location=_location(settings, kind, row.id),
        version=etag_of(row.version),
    )


def _user(settings: Settings, row: ScimUser) -> Any:
    user = UserModel.model_validate(row.resource)
    user.id = row.id
    user.meta = _meta(settings, "Users", row)
    return user


def _group(settings: Settings, row: ScimGroup) -> Any:
    group = GroupModel.model_validate(row.resource)
    group.id = row.id
    group.meta = _meta(settings, "Groups", row)
    return group


def _stored(resource: User[Any] | Group) -> dict[str, Any]:
    data: dict[str, Any] = resource.model_dump()
    data.pop("id", None)
    data.pop("meta", None)
    return data


def get_user(runtime: Runtime, rid: str) -> Any:
    with runtime.sessions() as session:
        return _user(runtime.settings, _row(session, ScimUser, rid))


def get_group(runtime: Runtime, rid: str) -> Any:
    with runtime.sessions() as session:
        return _group(runtime.settings, _row(session, ScimGroup, rid))


def _row(session: Session, kind: type[R], rid: str, lock: bool = False) -> R:
    query = select(kind).where(kind.id == rid)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise NotFoundException(detail=f"{'User' if kind is ScimUser else 'Group'} {rid} not found")
    return row


def _parse_filter(model: Any, text: str | None) -> Any:
    if not text:
        return None
    try:
        return ScimFilter[model](str(text))
    except (ValueError, TypeError) as exc:
        raise InvalidFilterException(detail=f"the filter cannot be read: {exc}") from exc


def _narrowed(query: Any, node: Any, columns: dict[str, tuple[Any, bool]]) -> Any:
    """Let the database do the part of a filter it can (``eq`` on an indexed attribute, also inside
    ``and``); the rows left are matched against the whole filter in Python."""
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        for term in node.terms:
            query = _narrowed(query, term, columns)
        return query
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and node.attr_path.sub_attr is None
        and isinstance(node.value, str)
        and node.attr_path.attr.lower() in columns
    ):
        column, lower = columns[node.attr_path.attr.lower()]
        return query.where(column == (node.value.lower() if lower else node.value))
    return query


def _page(
    session: Session,
    kind: type[R],
    to_model: Any,
    model: Any,
    filter_text: str | None,
    columns: dict[str, tuple[Any, bool]],
    start_index: int | None,
    count: int | None,
) -> ResourcePage:
    start = max(start_index or 1, 1)
    size = min(max(count if count is not None else DEFAULT_COUNT, 0), MAX_RESULTS)
    scim_filter = _parse_filter(model, filter_text)
    query = select(kind).order_by(kind.seq)
    if scim_filter is None:
        total = session.scalar(select(func.count()).select_from(kind)) or 0
        rows = session.scalars(query.offset(start - 1).limit(size)).all() if size else []
        return ResourcePage(total, start, [to_model(row) for row in rows])
    candidates = [to_model(row) for row in session.scalars(_narrowed(query, scim_filter.ast, columns))]
    matching = [resource for resource in candidates if scim_filter.match(resource)]
    return ResourcePage(len(matching), start, matching[start - 1 : start - 1 + size])


def list_users(runtime: Runtime, filter_text: str | None, start_index: int | None, count: int | None) -> ResourcePage:
    columns = {
        "username": (ScimUser.user_name_key, True),
        "externalid": (ScimUser.external_id, False),
        "id": (ScimUser.id, False),
    }
    with runtime.sessions() as session:
        return _page(
            session,
            ScimUser,
            lambda row: _user(runtime.settings, row),
            UserModel,
            filter_text,
            columns,
            start_index,
            count,
        )


def list_groups(runtime: Runtime, filter_text: str | None, start_index: int | None, count: int | None) -> ResourcePage:
    columns = {
        "displayname": (ScimGroup.display_name_key, True),
        "externalid": (ScimGroup.external_id, False),
        "id": (ScimGroup.id, False),
    }
    with runtime.sessions() as session:
        return _page(
            session,
            ScimGroup,
            lambda row: _group(runtime.settings, row),
            GroupModel,
            filter_text,
            columns,
            start_index,
            count,
        )


# --- writing: users --------------------------------------------------------------------------------


def _check_version(row: ScimUser | ScimGroup, if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    if etag_of(row.version) not in [tag.strip() for tag in if_match.split(",")]:
        raise PreconditionFailedException(detail="the resource has changed since it was read (If-Match)")


def _set_user(session: Session, row: ScimUser, user: Any, now: dt.datetime) -> None:
    user_name = str(user.user_name or "").strip()
    if not user_name:
        raise InvalidValueException(detail="userName is required")
    key = user_name.lower()
    clash = session.scalar(select(ScimUser.id).where(ScimUser.user_name_key == key, ScimUser.id != row.id))
    if clash is not None:
        raise UniquenessException(detail=f'userName "{user_name}" is taken by another user')
    row.user_name, row.user_name_key = user_name[:254], key[:254]
    row.external_id = str(user.external_id)[:254] if user.external_id else None
    row.active = user.active is not False
    row.resource = _stored(user)
    row.updated_at = now


def _writer(runtime: Runtime, session: Session, actor: str) -> _Projection:
    serialize(session, ORGANISATION_LOCK)
    return _Projection(session, runtime.clock(), runtime.settings, actor)


def create_user(runtime: Runtime, user: Any, actor: str) -> Any:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        projection = _writer(runtime, session, actor)
        row = ScimUser(id=str(uuid.uuid4()), version=1, created_at=now)
        _set_user(session, row, user, now)
        session.add(row)
        session.flush()
        projection.run(users={row.id})
        audit(session, now, actor, "scim.user_created", "scim_user", row.id, after={"userName": row.user_name})
        return _user(runtime.settings, row)


def replace_user(runtime: Runtime, rid: str, user: Any, if_match: str | None, actor: str) -> Any:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        projection = _writer(runtime, session, actor)
        row = _row(session, ScimUser, rid, lock=True)
        _check_version(row, if_match)
        user.replace(_user(runtime.settings, row))  # an immutable attribute changed: MutabilityException
        return _save_user(session, projection, row, user, now, "scim.user_replaced")


def patch_user(runtime: Runtime, rid: str, patch: PatchOp[Any], if_match: str | None, actor: str) -> Any:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        projection = _writer(runtime, session, actor)
        row = _row(session, ScimUser, rid, lock=True)
        _check_version(row, if_match)
        user = _user(runtime.settings, row)
        if not patch.patch(user):
            return user
        return _save_user(session, projection, row, _revalidated(UserModel, user), now, "scim.user_patched")


def _revalidated(model: Any, resource: Any) -> Any:
    """A patched resource checked again as a whole (a patch can leave it without a required value)."""
    data = _stored(resource)
    try:
        return model.model_validate(data, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidValueException(detail=f"{first.get('msg')}: {'.'.join(map(str, first.get('loc', ())))}") from exc


def _save_user(
    session: Session, projection: _Projection, row: ScimUser, user: Any, now: dt.datetime, action: str
) -> Any:
    before = {"userName": row.user_name, "active": row.active}
    _set_user(session, row, user, now)
    row.version += 1
    session.flush()
    projection.run(users={row.id})
    audit(
        session,
        now,
        projection.actor,
        action,
        "scim_user",
        row.id,
        before,
        {"userName": row.user_name, "active": row.active},
    )
    return _user(projection.settings, row)


def delete_user(runtime: Runtime, rid: str, if_match: str | None, actor: str) -> None:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        projection = _writer(runtime, session, actor)
        row = _row(session, ScimUser, rid, lock=True)
        _check_version(row, if_match)
        projection.forget_user(row)
        audit(session, now, actor, "scim.user_deleted", "scim_user", rid, {"userName": row.user_name}, None)


# --- writing: groups -------------------------------------------------------------------------------


def _set_group(row: ScimGroup, group: Any, now: dt.datetime) -> None:
    name = str(group.display_name or "").strip()
    if not name:
        raise InvalidValueException(detail="displayName is required")
    row.display_name, row.display_name_key = name[:200], name.lower()[:200]
    row.external_id = str(group.external_id)[:254] if group.external_id else None
    extension = group[AarshjulGroup]
    row.leader_user_id = reference_id(extension.leader) if extension is not None else None
    row.parent_group_id = reference_id(extension.parent) if extension is not None else None
    row.resource = _stored(group)
    row.updated_at = now


def create_group(runtime: Runtime, group: Any, actor: str) -> Any:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        projection = _writer(runtime, session, actor)
        row = ScimGroup(id=str(uuid.uuid4()), version=1, created_at=now)
        _set_group(row, group, now)
        row.unit_id = projection.new_unit(row, group)
        session.add(row)
        session.flush()
        projection.run(groups={row.id})
        audit(session, now, actor, "scim.group_created", "scim_group", row.id, after={"displayName": row.display_name})
        return _group(runtime.settings, row)


def replace_group(runtime: Runtime, rid: str, group: Any, if_match: str | None, actor: str) -> Any:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        projection = _writer(runtime, session, actor)
        row = _row(session, ScimGroup, rid, lock=True)
        _check_version(row, if_match)
        group.replace(_group(runtime.settings, row))
        return _save_group(session, projection, row, group, now, "scim.group_replaced")


def patch_group(runtime: Runtime, rid: str, patch: PatchOp[Any], if_match: str | None, actor: str) -> Any:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        projection = _writer(runtime, session, actor)
        row = _row(session, ScimGroup, rid, lock=True)
        _check_version(row, if_match)
        group = _group(runtime.settings, row)
        if not patch.patch(group):
            return group
        return _save_group(session, projection, row, _revalidated(GroupModel, group), now, "scim.group_patched")


def _save_group(
    session: Session, projection: _Projection, row: ScimGroup, group: Any, now: dt.datetime, action: str
) -> Any:
    before = {"displayName": row.display_name, "members": projection.members_of(row.id)}
    _set_group(row, group, now)
    row.version += 1
    session.flush()
    projection.run(groups={row.id}, users=set(before["members"]))
    after = {"displayName": row.display_name, "members": projection.members_of(row.id)}
    audit(session, now, projection.actor, action, "scim_group", row.id, before, after)
    return _group(projection.settings, row)


def delete_group(runtime: Runtime, rid: str, if_match: str | None, actor: str) -> None:
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        projection = _writer(runtime, session, actor)
        row = _row(session, ScimGroup, rid, lock=True)
        _check_version(row, if_match)
        projection.forget_group(row)
        audit(session, now, actor, "scim.group_deleted", "scim_group", rid, {"displayName": row.display_name}, None)


# --- the projection onto the organisation ------------------------------------------------------------


def _email_of(user: Any) -> str | None:
    """The person's address: the primary email, else a work one, else the first; else a userName that is
    an address. A given address our rule refuses is refused, as the file import refuses it."""
    emails = [e for e in (user.emails or []) if e.value]
    emails.sort(key=lambda e: (not e.primary, str(e.type or "").lower() != "work"))
    if emails:
        address = normalise_email(str(emails[0].value))
        if not EMAIL.match(address):
            raise InvalidValueException(detail=f'"{emails[0].value}" is not an email address Årshjul can use')
        return address
    user_name = normalise_email(str(user.user_name or ""))
    return user_name if EMAIL.match(user_name) else None


def _name_of(user: Any) -> str:
    name = user.name
    parts = [name.given_name, name.family_name] if name is not None else []
    joined = " ".join(str(p).strip() for p in parts if p)
    for candidate in (user.display_name, name.formatted if name is not None else None, joined, user.user_name):
        if candidate and str(candidate).strip():
            return str(candidate).strip()[:200]
    return "?"


def _mobile_of(user: Any) -> str | None:
    """The ``mobile`` phone number, if it is one SMS can reach. Other numbers, and a mobile number that
    cannot be read, are kept as the client sent them but not used (a directory's phone field is free text,
    and a person must not go unprovisioned over it)."""
    for phone in user.phone_numbers or []:
        if str(phone.type or "").lower() == "mobile":
            return mobile_or_none(str(phone.value or ""))
    return None


def _is_hr(user: Any) -> bool:
    return any(str(role.value or "").strip().lower() == HR_ROLE for role in user.roles or [])


class _Projection:
    """Brings the organisation in line with the SCIM resources a request touched, inside its transaction."""

    def __init__(self, session: Session, now: dt.datetime, settings: Settings, actor: str) -> None:
        self.session = session
        self.now = now
        self.settings = settings
        self.today = local_date(now, settings.zone)
        self.actor = actor
        self.leavers: list[int] = []

    def _find(self, kind: type[R], rid: str) -> R | None:
        return self.session.scalars(select(kind).where(kind.id == rid)).first()

    # -- units

    def _organisation(self, name: str) -> int:
        organisation_id = self.session.scalar(select(Organisation.id).order_by(Organisation.id).limit(1))
        if organisation_id is None:
            organisation = Organisation(name=name)
            self.session.add(organisation)
            self.session.flush()
            organisation_id = organisation.id
        return organisation_id

    def _code_of(self, row: ScimGroup, group: Any) -> str:
        extension = group[AarshjulGroup]
        code = (extension.code if extension is not None else None) or row.external_id or f"scim-{row.id[:8]}"
        return str(code).strip()[:CODE_LENGTH]

    def new_unit(self, row: ScimGroup, group: Any) -> int:
        """The unit of a new group: one of the file import's units not yet taken by a group, when its code
        (or, failing that, its name: once only) is the group's; else a new one."""
        organisation_id = self._organisation(row.display_name)
        code = self._code_of(row, group)
        taken = select(ScimGroup.unit_id)
        unit = self.session.scalars(
            select(Unit).where(Unit.organisation_id == organisation_id, Unit.code == code)
        ).first()
        if unit is not None and self.session.scalar(taken.where(ScimGroup.unit_id == unit.id)) is not None:
            raise UniquenessException(detail=f'unit code "{code}" belongs to another group')
        if unit is None:
            same_name = self.session.scalars(
                select(Unit).where(
                    Unit.organisation_id == organisation_id,
                    func.lower(Unit.name) == row.display_name_key,
                    Unit.active.is_(True),
                    Unit.id.not_in(taken.where(ScimGroup.unit_id.is_not(None))),
                )
            ).all()
            unit = same_name[0] if len(same_name) == 1 else None
        if unit is None:
            unit = Unit(organisation_id=organisation_id, code=code, name=row.display_name, active=True)
            self.session.add(unit)
            self.session.flush()
        return unit.id

    def _apply_group(self, row: ScimGroup) -> set[str]:
        """Unit name, code, parent and members from the group; returns the users it touches."""
        group = GroupModel.model_validate(row.resource)
        unit = self.session.get(Unit, row.unit_id)
        if unit is None:
            raise LookupError(f"group {row.id} has no unit")
        code = self._code_of(row, group)
        clash = self.session.scalar(
            select(Unit.id).where(Unit.organisation_id == unit.organisation_id, Unit.code == code, Unit.id != unit.id)
        )
        if clash is not None:
            raise UniquenessException(detail=f'unit code "{code}" belongs to another unit')
        unit.code, unit.name, unit.active = code, row.display_name, True
        if row.parent_group_id is not None:
            if row.parent_group_id == row.id:
                raise InvalidValueException(detail="a unit cannot be its own parent")
            parent = self._find(ScimGroup, row.parent_group_id)
            if parent is None:
                raise InvalidValueException(detail=f'parent "{row.parent_group_id}" is not a group')
            unit.parent_id = parent.unit_id
        else:
            unit.parent_id = None
        if row.leader_user_id is not None and self._find(ScimUser, row.leader_user_id) is None:
            raise InvalidValueException(detail=f'leader "{row.leader_user_id}" is not a user')
        members: list[str] = []
        for member in group.members or []:
            member_id = reference_id(member)
            if member_id is None:
                continue
            if str(member.type or "User") == "Group" or self._find(ScimGroup, member_id) is not None:
                raise InvalidValueException(
                    detail="a unit's members are people; put a unit below another with the parent attribute"
                )
            if self._find(ScimUser, member_id) is None:
                raise InvalidValueException(detail=f'member "{member_id}" is not a user')
            members.append(member_id)
        before = set(self.members_of(row.id))
        self.session.execute(delete(ScimMember).where(ScimMember.group_id == row.id))
        if members:
            self.session.execute(insert(ScimMember), [{"group_id": row.id, "user_id": m} for m in sorted(set(members))])
        return before | set(members) | ({row.leader_user_id} if row.leader_user_id else set())

    def _check_tree(self, unit_ids: Iterable[int]) -> None:
        parents = {row.id: row.parent_id for row in self.session.execute(select(Unit.id, Unit.parent_id))}
        names = {row.id: row.name for row in self.session.execute(select(Unit.id, Unit.name))}
        for start in unit_ids:
            path = [start]
            current = parents.get(start)
            while current is not None:
                if current in path:
                    loop = path[path.index(current) :] + [current]
                    raise InvalidValueException(
                        detail="the unit tree would have a cycle: " + " -> ".join(names[u] for u in loop)
                    )
                path.append(current)
                current = parents.get(current)

    def members_of(self, group_id: str) -> list[str]:
        return list(self.session.scalars(select(ScimMember.user_id).where(ScimMember.group_id == group_id)))

    # -- people

    def _unit_of(self, row: ScimUser) -> tuple[int | None, bool]:
        """The user's unit and whether they lead it: the unit they lead, else their one group's."""
        led = self.session.scalars(select(ScimGroup).where(ScimGroup.leader_user_id == row.id)).all()
        if len(led) > 1:
            names = ", ".join(sorted(g.display_name for g in led))
            raise InvalidValueException(detail=f'user "{row.user_name}" would lead {names}; a person leads one unit')
        if led:
            return led[0].unit_id, True
        groups = self.session.scalars(
            select(ScimGroup).join(ScimMember, ScimMember.group_id == ScimGroup.id).where(ScimMember.user_id == row.id)
        ).all()
        if len(groups) > 1:
            names = ", ".join(sorted(g.display_name for g in groups))
            raise InvalidValueException(
                detail=f'user "{row.user_name}" would be in {names}; a person belongs to one unit (or leads one)'
            )
        return (groups[0].unit_id, False) if groups else (None, False)

    def _person_for(self, row: ScimUser, email: str, employee_no: str | None, fields: dict[str, Any]) -> Person:
        """The file import's person with this employee number, else this email, unless another user has
        them; else a new person."""
        unit = self.session.get(Unit, fields["unit_id"])
        if unit is None:
            raise LookupError(f"unit {fields['unit_id']} is missing")
        organisation_id = unit.organisation_id
        person = None
        if employee_no:
            person = self.session.scalars(
                select(Person).where(Person.organisation_id == organisation_id, Person.employee_no == employee_no)
            ).first()
        if person is None:
            person = self.session.scalars(
                select(Person).where(Person.organisation_id == organisation_id, Person.email == email)
            ).first()
        if person is not None:
            owner = self.session.scalar(select(ScimUser.user_name).where(ScimUser.person_id == person.id))
            if owner is not None:
                raise UniquenessException(detail=f'"{email}" is already the person of user "{owner}"')
            return person
        person = Person(
            organisation_id=organisation_id, active_from=self.today, email=email, calendar_version=1, **fields
        )
        self.session.add(person)
        self.session.flush()
        return person

    def _apply_user(self, row: ScimUser) -> None:
        user = UserModel.model_validate(row.resource)
        email = _email_of(user)
        unit_id, leads = self._unit_of(row)
        enterprise = user[ENTERPRISE_EXTENSION]
        employee_no = (
            str(enterprise.employee_number).strip()[:64] if enterprise and enterprise.employee_number else None
        )
        fields: dict[str, Any] = {
            "name": _name_of(user),
            "role": Role.HR if _is_hr(user) else Role.LEADER if leads else Role.EMPLOYEE,
            "language": language_of(user.preferred_language)
            or language_of(user.locale)
            or self.settings.default_language,
            "mobile": _mobile_of(user),
        }
        if unit_id is not None:
            fields["unit_id"] = unit_id
        person = self.session.get(Person, row.person_id) if row.person_id is not None else None
        if person is None:
            if email is None or unit_id is None or not row.active:
                return  # not a person (yet): the resource waits for an address and a unit
            person = self._person_for(row, email, employee_no, fields)
        if email is not None and email != person.email:
            other = self.session.scalar(
                select(Person.id).where(Person.email == email, Person.organisation_id == person.organisation_id)
            )
            if other is not None and other != person.id:
                raise UniquenessException(detail=f'"{email}" is the email of another person')
            person.email = email
        if employee_no is not None and employee_no != person.employee_no:
            other = self.session.scalar(
                select(Person.id).where(
                    Person.employee_no == employee_no, Person.organisation_id == person.organisation_id
                )
            )
            if other is not None and other != person.id:
                raise UniquenessException(detail=f'employee number "{employee_no}" is another person\'s')
            person.employee_no = employee_no
        for name, value in fields.items():
            setattr(person, name, value)
        row.person_id = person.id
        person.deputy_id = self._deputy_of(user, person.id)
        if not row.active and person.active_to is None:
            self._leaves(person)
        elif row.active and person.active_to is not None:
            person.active_to = None

    def _leaves(self, person: Person) -> None:
        # As the file import: the last day is yesterday, or today for someone who started today.
        starts = person.active_from or self.today
        person.active_to = self.today - dt.timedelta(days=1) if starts < self.today else self.today
        self.leavers.append(person.id)

    def _deputy_of(self, user: Any, person_id: int) -> int | None:
        extension = user[AarshjulUser]
        deputy_user = reference_id(extension.deputy) if extension is not None else None
        if deputy_user is None:
            return None
        deputy = self._find(ScimUser, deputy_user)
        if deputy is None:
            raise InvalidValueException(detail=f'deputy "{deputy_user}" is not a user')
        if deputy.person_id == person_id:
            raise InvalidValueException(detail="a person cannot be their own deputy")
        return deputy.person_id

    def _apply_leaders(self, group_ids: set[str], user_ids: set[str]) -> None:
        """A unit's leader is the person of the group's leader; a group naming none (or a user who is no
        person yet) leaves the unit's leader as it was, as the file import never leaves a unit without one."""
        rows = self.session.scalars(
            select(ScimGroup).where(ScimGroup.id.in_(group_ids) | ScimGroup.leader_user_id.in_(user_ids))
        ).all()
        for row in rows:
            if row.leader_user_id is None:
                continue
            leader = self._find(ScimUser, row.leader_user_id)
            unit = self.session.get(Unit, row.unit_id)
            if leader is not None and leader.person_id is not None and unit is not None:
                unit.leader_id = leader.person_id

    def run(self, users: Iterable[str] = (), groups: Iterable[str] = ()) -> None:
        user_ids, group_ids = set(users), set(groups)
        self.session.flush()
        for group_id in sorted(group_ids):
            group = self._find(ScimGroup, group_id)
            if group is not None:
                user_ids |= self._apply_group(group)
        self.session.flush()
        self._check_tree(self.session.scalars(select(ScimGroup.unit_id).where(ScimGroup.id.in_(group_ids))).all())
        # Units first: a user's unit and role follow from the groups they are in and lead.
        for user_id in sorted(user_ids):
            user = self._find(ScimUser, user_id)
            if user is not None:
                self._apply_user(user)
        self.session.flush()
        self._apply_leaders(group_ids, user_ids)
        self._finish()

    def _finish(self) -> None:
        self.session.flush()
        # New people, leavers, moved people and units change whose tasks are owed in every running
        # cycle: the next sweep reconciles them in full, as after a file import.
        for organisation_id in self.session.scalars(select(Organisation.id)):
            owe_full_reconcile(self.session, organisation_id)
        if self.leavers:
            handle_leavers(self.session, self.leavers, self.now, self.settings.zone)
            # A deputy who has left can stand in for nobody (as after a file import).
            self.session.execute(
                update(Person).where(Person.deputy_id.in_(self.leavers)).values(deputy_id=None),
                execution_options={"synchronize_session": False},
            )
            self.leavers = []

    # -- deletions

    def _edit(self, rows: Iterable[ScimUser | ScimGroup], change: Any) -> None:
        """Change stored resources that refer to something deleted, as a new version of each."""
        for row in rows:
            model = UserModel if isinstance(row, ScimUser) else GroupModel
            resource = model.model_validate(row.resource)
            change(resource)
            row.resource = _stored(resource)
            row.version += 1
            row.updated_at = self.now

    def forget_user(self, row: ScimUser) -> None:
        """Delete a user: the groups they were in or led, and the users they were deputy for, no longer
        name them; their person (if any) is a leaver, with their history kept."""
        groups = (
            self.session.scalars(
                select(ScimGroup)
                .outerjoin(ScimMember, ScimMember.group_id == ScimGroup.id)
                .where((ScimMember.user_id == row.id) | (ScimGroup.leader_user_id == row.id))
            )
            .unique()
            .all()
        )

        def drop_from_group(group: Any) -> None:
            group.members = [m for m in group.members or [] if reference_id(m) != row.id] or None
            extension = group[AarshjulGroup]
            if extension is not None and reference_id(extension.leader) == row.id:
                extension.leader = None

        self._edit(groups, drop_from_group)
        for group in groups:
            if group.leader_user_id == row.id:
                group.leader_user_id = None
        deputised = [
            other
            for other in self.session.scalars(select(ScimUser).where(ScimUser.id != row.id))
            if (extension := other.resource.get("urn:ietf:params:scim:schemas:extension:aarshjul:2.0:User"))
            and isinstance(extension.get("deputy"), dict)
            and extension["deputy"].get("value") == row.id
        ]

        def drop_deputy(user: Any) -> None:
            user[AarshjulUser].deputy = None

        self._edit(deputised, drop_deputy)
        self.session.execute(delete(ScimMember).where(ScimMember.user_id == row.id))
        person = self.session.get(Person, row.person_id) if row.person_id is not None else None
        if person is not None and person.active_to is None:
            self._leaves(person)
        self.session.delete(row)
        self.session.flush()
        for other in deputised:
            self._apply_user(other)
        self._finish()

    def forget_group(self, row: ScimGroup) -> None:
        """Delete a group: its unit is deactivated (its history stays), the groups below it become top
        units, and its people keep the unit until another group places them."""
        children = self.session.scalars(select(ScimGroup).where(ScimGroup.parent_group_id == row.id)).all()

        def drop_parent(group: Any) -> None:
            group[AarshjulGroup].parent = None

        self._edit(children, drop_parent)
        for child in children:
            child.parent_group_id = None
            unit = self.session.get(Unit, child.unit_id)
            if unit is not None:
                unit.parent_id = None
        unit = self.session.get(Unit, row.unit_id)
        if unit is not None:
            unit.active = False
        self.session.execute(delete(ScimMember).where(ScimMember.group_id == row.id))
        self.session.delete(row)
        self._finish()


__all__ = [
    "SCIMException",
    "ResourcePage",
    "create_group",
    "create_user",
    "delete_group",
    "delete_user",
    "etag_of",
    "get_group",
    "get_user",
    "list_groups",
    "list_users",
    "patch_group",
    "patch_user",
    "replace_group",
    "replace_user",
]
