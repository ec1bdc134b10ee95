"""SCIM as Microsoft Entra ID uses it, and the organisation behind it: requests shaped as Entra sends them
(Microsoft's own examples), filters, paging, uniqueness, ETags, authentication, and the file import's
rules (a leaver keeps their history and their open tasks go to the deputy or the leader; a bad request
changes nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aarshjul.db.models import AuditEvent, Cycle, HumanTask, Notification, Person, ScimMember, ScimUser, Unit
from aarshjul.domain.enums import Language, Role, TaskState
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import issue_api_token
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.admin.scim_access import issue_scim_token, revoke_scim_token
from aarshjul.usecases.cycle.sweep import sweep
from service.app import create_app
from tests.builders import demo_cycle
from tests.scim_support import CORE_GROUP, CORE_USER, ENTERPRISE, PERSON, SCIM_JSON, UNIT, patch, scim_client

ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def entra_user(user_name: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
    """A user as Entra ID creates one (its tutorial's request, with roles: [] and meta.resourceType)."""
    body: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": user_name.split("@")[0],
        "userName": user_name,
        "active": True,
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Kari Nordmann", "familyName": "Nordmann", "givenName": "Kari"},
        "roles": [],
    }
    if email:
        body["emails"] = [{"primary": True, "type": "work", "value": email}]
    return {**body, **extra}


def entra_group(name: str, **extension: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [CORE_GROUP, ADSCIM_GROUP],
        "externalId": f"group-{name}",
        "displayName": name,
        "meta": {"resourceType": "Group"},
    }
    if extension:
        body["schemas"].append(UNIT)
        body[UNIT] = extension
    return body


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The response is a SCIM Error with this status, in SCIM's media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    return dict(body)


def person_of(runtime: Runtime, user_id: str) -> Person | None:
    with runtime.sessions() as session:
        person_id = session.scalar(select(ScimUser.person_id).where(ScimUser.id == user_id))
        return session.get(Person, person_id) if person_id is not None else None


@pytest.fixture(name="scim")
def scim_fixture(runtime: Runtime) -> Any:
    with scim_client(runtime) as client:
        yield client


# --- authentication and errors -----------------------------------------------------------------------


def test_only_a_live_scim_token_is_let_in(runtime: Runtime) -> None:
    seed_demo(runtime)
    hr_token = issue_api_token(runtime, label="hr")
    scim_token = issue_scim_token(runtime, "entra", actor="test")
    with scim_client(runtime, token="nonsense") as client:
        refused = client.get("/Users")
        error_of(refused, 401)
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert client.get("/Users", headers={"Authorization": f"Bearer {hr_token}"}).status_code == 401
        assert client.get("/Users", headers={"Authorization": "Basic eDp5"}).status_code == 401
        assert client.get("/Users", headers={"Authorization": f"Bearer {scim_token}"}).status_code == 200
        revoke_scim_token(runtime, 1, actor="test")
        error_of(client.get("/Users", headers={"Authorization": f"Bearer {scim_token}"}), 401)


def test_unknown_addresses_methods_and_bodies_get_scim_errors(scim: TestClient) -> None:
    error_of(scim.get("/Nothing/here"), 404)
    error_of(scim.get("/Users/5f0c0c8e-0000-4000-8000-000000000000"), 404)  # Entra's "test connection"
    error_of(scim.post("/ServiceProviderConfig", json={}), 405)
    error_of(scim.post("/Users", content=b"{not json"), 400)
    error_of(scim.post("/Users", content=b"[" + b" " * (1024 * 1024) + b"]"), 413)
    missing = error_of(scim.post("/Users", json={"schemas": [CORE_USER], "displayName": "No userName"}), 400)
    assert missing["scimType"] == "invalidValue"
    unquoted = error_of(scim.get("/Users", params={"filter": "externalId eq jyoung"}), 400)
    assert unquoted["scimType"] == "invalidFilter"


def test_the_openapi_document_describes_the_scim_routes(runtime: Runtime) -> None:
    document = create_app(runtime).openapi()  # HR's /api/openapi.json serves this, behind HR's sign-in
    patch_users = document["paths"]["/scim/v2/Users/{rid}"]["patch"]
    assert {"200", "400", "401", "404", "409", "412"} <= set(patch_users["responses"])
    assert "/scim/v2/Groups" in document["paths"]


# --- users: filters, paging, uniqueness, versions --------------------------------------------------------


def test_entra_finds_users_by_user_name_or_external_id_before_creating_them(scim: TestClient) -> None:
    nobody = scim.get("/Users", params={"filter": 'userName eq "Test_User_1@contoso.com"'})
    assert nobody.headers["content-type"].startswith(SCIM_JSON)
    assert nobody.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert (nobody.json()["totalResults"], nobody.json().get("Resources", [])) == (0, [])
    user = created(scim.post("/Users", json=entra_user("Test_User_1@contoso.com", "test.user@contoso.com")))
    assert user["userName"] == "Test_User_1@contoso.com"
    assert scim.get(f"/Users/{user['id']}").headers["etag"] == 'W/"1"'
    for scim_filter in (
        'userName eq "test_user_1@CONTOSO.com"',  # userName is compared without case
        'externalId eq "Test_User_1"',
        'emails[type eq "work"].value eq "test.user@contoso.com"',
        'userName eq "Test_User_1@contoso.com" and active eq true',
    ):
        found = scim.get("/Users", params={"filter": scim_filter}).json()
        assert (found["totalResults"], found["Resources"][0]["id"]) == (1, user["id"]), scim_filter
    assert scim.get("/Users", params={"filter": 'externalId eq "test_user_1"'}).json()["totalResults"] == 0
    taken = error_of(scim.post("/Users", json=entra_user("TEST_USER_1@contoso.com")), 409)
    assert taken["scimType"] == "uniqueness"
    only_name = scim.get("/Users", params={"filter": 'userName eq "Test_User_1@contoso.com"', "attributes": "userName"})
    assert set(only_name.json()["Resources"][0]) == {"schemas", "id", "userName"}


def test_lists_are_paged(scim: TestClient) -> None:
    ids = [created(scim.post("/Users", json=entra_user(f"user{n}@contoso.com")))["id"] for n in range(5)]
    page = scim.get("/Users", params={"startIndex": 3, "count": 2}).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 3, 2)
    assert [r["id"] for r in page["Resources"]] == ids[2:4]
    assert scim.get("/Users", params={"count": 0}).json()["totalResults"] == 5
    filtered = scim.get("/Users", params={"filter": 'userName sw "user"', "startIndex": 5}).json()
    assert (filtered["totalResults"], [r["id"] for r in filtered["Resources"]]) == (5, ids[4:])


def test_a_stale_version_is_refused(scim: TestClient) -> None:
    user = created(scim.post("/Users", json=entra_user("kari@contoso.com")))
    assert (
        scim.patch(
            f"/Users/{user['id']}", json=patch({"op": "replace", "path": "displayName", "value": "K"})
        ).status_code
        == 200
    )
    stale = {"If-Match": 'W/"1"'}
    error_of(scim.put(f"/Users/{user['id']}", json=entra_user("kari@contoso.com"), headers=stale), 412)
    error_of(scim.delete(f"/Users/{user['id']}", headers=stale), 412)
    assert scim.delete(f"/Users/{user['id']}", headers={"If-Match": 'W/"2"'}).status_code == 204


def test_entras_patch_shapes_are_understood(scim: TestClient) -> None:
    user = created(scim.post("/Users", json=entra_user("ola@contoso.com", "ola@contoso.com")))
    url = f"/Users/{user['id']}"
    changed = scim.patch(
        url,
        json=patch(
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ola.n@contoso.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Nordmann"},
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "a-manager-id"},  # a bare string, as Entra sends it
        ),
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["emails"][0]["value"] == "ola.n@contoso.com"
    assert body[ENTERPRISE]["manager"]["value"] == "a-manager-id"
    flagged = scim.patch(  # with the aadOptscim062020 flag: no path, dotted keys
        url, json=patch({"op": "replace", "value": {"name.givenName": "Ola", f"{ENTERPRISE}:employeeNumber": "77"}})
    )
    assert flagged.json()["name"]["givenName"] == "Ola" and flagged.json()[ENTERPRISE]["employeeNumber"] == "77"
    assert scim.patch(url, json=patch({"op": "Replace", "path": "active", "value": "False"})).json()["active"] is False


# --- the organisation behind the resources ------------------------------------------------------------


def test_groups_and_members_make_units_and_people(runtime: Runtime, scim: TestClient) -> None:
    leader = created(
        scim.post(
            "/Users",
            json=entra_user(
                "leder@fjordvik.no",
                "leder@fjordvik.no",
                preferredLanguage="en-GB",
                phoneNumbers=[{"type": "mobile", "value": "+47 912 34 567"}, {"type": "work", "value": "22 33 44 55"}],
            ),
        )
    )
    hr = created(scim.post("/Users", json=entra_user("hr@fjordvik.no", "hr@fjordvik.no", roles=[{"value": "hr"}])))
    waiting = created(scim.post("/Users", json=entra_user("no-address")))  # no email: not a person yet
    assert person_of(runtime, leader["id"]) is None  # no unit yet either
    top = created(scim.post("/Groups", json=entra_group("Fjordvik", code="TOP", leader={"value": leader["id"]})))
    assert top["schemas"] == [CORE_GROUP, UNIT]  # Entra's extra schema is dropped
    staff = created(scim.post("/Groups", json=entra_group("Stab", parent={"value": top["id"]})))
    added = scim.patch(
        f"/Groups/{staff['id']}",
        json=patch(
            {"op": "Add", "path": "members", "value": [{"$ref": None, "value": u["id"]} for u in (hr, waiting)]}
        ),
    )
    assert added.status_code == 204, added.text
    with runtime.sessions() as session:
        units = {u.name: u for u in session.scalars(select(Unit))}
    assert (units["Fjordvik"].code, units["Stab"].code) == ("TOP", "group-Stab")  # externalId when no code
    assert units["Stab"].parent_id == units["Fjordvik"].id
    boss = person_of(runtime, leader["id"])
    assert boss is not None
    assert (boss.unit_id, boss.role, boss.language, boss.mobile) == (
        units["Fjordvik"].id,
        Role.LEADER,
        Language.EN,
        "+4791234567",
    )
    assert units["Fjordvik"].leader_id == boss.id
    hr_person = person_of(runtime, hr["id"])
    assert hr_person is not None and (hr_person.role, hr_person.unit_id) == (Role.HR, units["Stab"].id)
    assert person_of(runtime, waiting["id"]) is None
    # Entra's legacy member removal (a value list on "remove") takes the member out; the person keeps
    # their unit until another group places them.
    removed = scim.patch(
        f"/Groups/{staff['id']}", json=patch({"op": "Remove", "path": "members", "value": [{"value": hr["id"]}]})
    )
    assert removed.status_code == 204, removed.text
    assert [m["value"] for m in scim.get(f"/Groups/{staff['id']}").json()["members"]] == [waiting["id"]]
    assert person_of(runtime, hr["id"]).unit_id == units["Stab"].id  # type: ignore[union-attr]
    found = scim.get("/Groups", params={"filter": 'displayName eq "stab"', "excludedAttributes": "members"}).json()
    assert found["totalResults"] == 1 and "members" not in found["Resources"][0]


def test_a_bad_request_changes_nothing(runtime: Runtime, scim: TestClient) -> None:
    user = created(scim.post("/Users", json=entra_user("kari@fjordvik.no", "kari@fjordvik.no")))
    first = created(scim.post("/Groups", json={**entra_group("A"), "members": [{"value": user["id"]}]}))
    second = created(scim.post("/Groups", json=entra_group("B", parent={"value": first["id"]})))
    # a person belongs to one unit
    twice = error_of(
        scim.patch(
            f"/Groups/{second['id']}", json=patch({"op": "add", "path": "members", "value": [{"value": user["id"]}]})
        ),
        400,
    )
    assert "belongs to one unit" in twice["detail"]
    # a unit tree without cycles
    loop = error_of(
        scim.patch(
            f"/Groups/{first['id']}",
            json=patch({"op": "add", "path": f"{UNIT}:parent", "value": {"value": second["id"]}}),
        ),
        400,
    )
    assert "cycle" in loop["detail"]
    error_of(
        scim.patch(
            f"/Groups/{first['id']}", json=patch({"op": "add", "path": "members", "value": [{"value": "nobody"}]})
        ),
        400,
    )
    error_of(scim.post("/Users", json=entra_user("x@fjordvik.no", "not an address")), 400)
    assert scim.get(f"/Groups/{second['id']}").json().get("members") is None
    assert scim.get(f"/Groups/{first['id']}").json().get(UNIT, {}) == {}  # as created: no parent
    assert scim.get(f"/Groups/{second['id']}").headers["etag"] == 'W/"1"'
    with runtime.sessions() as session:
        assert [(m.group_id, m.user_id) for m in session.scalars(select(ScimMember))] == [(first["id"], user["id"])]
        units = {u.name: u.parent_id for u in session.scalars(select(Unit))}
    assert units["A"] is None


def test_an_existing_person_is_taken_over_and_a_leaver_hands_over_their_tasks(
    runtime: Runtime, scim: TestClient
) -> None:
    demo_cycle(runtime)  # the file import's organisation, the year started: unit leaders have tasks
    with runtime.sessions() as session:
        ingrid = session.scalars(select(Person).where(Person.email == "ingrid.myrvaag@fjordvik.kommune.no")).one()
        vibeke = session.scalars(select(Person).where(Person.email == "vibeke.bakke@fjordvik.kommune.no")).one()
        kom = session.scalars(select(Unit).where(Unit.code == "KOM")).one()
        open_tasks = session.scalars(
            select(HumanTask.id).where(HumanTask.assignee_id == ingrid.id, HumanTask.state == TaskState.OPEN)
        ).all()
    assert open_tasks
    deputy = created(scim.post("/Users", json=entra_user("vibeke@fjordvik.kommune.no", vibeke.email)))
    user = created(
        scim.post(
            "/Users",
            json=entra_user(
                "ingrid@fjordvik.kommune.no",
                "Ingrid.Myrvaag@fjordvik.kommune.no",
                **{ENTERPRISE: {"employeeNumber": "1001"}, PERSON: {"deputy": {"value": deputy["id"]}}},
            ),
        )
    )
    group = created(
        scim.post(
            "/Groups",
            json={
                **entra_group("Kommunedirektørens stab", code="KOM", leader={"value": user["id"]}),
                "members": [{"value": deputy["id"]}],
            },
        )
    )
    taken_over = person_of(runtime, user["id"])
    assert taken_over is not None and taken_over.id == ingrid.id  # the same person: her history is hers
    with runtime.sessions() as session:
        assert session.get(Unit, kom.id).name == "Kommunedirektørens stab"  # type: ignore[union-attr]
    # Entra's soft delete: active false, as a string
    left = scim.patch(f"/Users/{user['id']}", json=patch({"op": "Replace", "path": "active", "value": "False"}))
    assert left.status_code == 200, left.text
    with runtime.sessions() as session:
        person = session.get(Person, ingrid.id)
        assert person is not None and person.active_to is not None  # kept, no longer active
        moved = session.scalars(select(HumanTask).where(HumanTask.id.in_(open_tasks))).all()
        assert {t.assignee_id for t in moved} == {vibeke.id}  # her deputy
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "scim.user_patched")).all()
        assert session.scalars(select(Notification).where(Notification.template == "tasks_reassigned_hr")).all()
    assert scim.get(f"/Users/{user['id']}").json()["active"] is False  # still there (Entra reads it back)
    scim.patch(f"/Users/{user['id']}", json=patch({"op": "replace", "path": "active", "value": True}))
    assert person_of(runtime, user["id"]).active_to is None  # type: ignore[union-attr]
    # deleting the user is leaving too; the resource is gone, the person and their history stay
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    error_of(scim.get(f"/Users/{user['id']}"), 404)
    assert "leader" not in scim.get(f"/Groups/{group['id']}").json().get(UNIT, {})
    with runtime.sessions() as session:
        assert session.get(Person, ingrid.id).active_to is not None  # type: ignore[union-attr]


def test_deleting_a_group_deactivates_its_unit(runtime: Runtime, scim: TestClient) -> None:
    user = created(scim.post("/Users", json=entra_user("kari@fjordvik.no", "kari@fjordvik.no")))
    top = created(scim.post("/Groups", json=entra_group("Top")))
    below = created(
        scim.post(
            "/Groups", json={**entra_group("Below", parent={"value": top["id"]}), "members": [{"value": user["id"]}]}
        )
    )
    assert scim.delete(f"/Groups/{top['id']}").status_code == 204
    error_of(scim.get(f"/Groups/{top['id']}"), 404)
    assert scim.get(f"/Groups/{below['id']}").json().get(UNIT, {}) == {}
    with runtime.sessions() as session:
        units = {u.name: u for u in session.scalars(select(Unit))}
    assert units["Top"].active is False and units["Below"].parent_id is None
    assert person_of(runtime, user["id"]).unit_id == units["Below"].id  # type: ignore[union-attr]


def test_each_scim_change_makes_the_next_sweep_reconcile_in_full(runtime: Runtime, scim: TestClient) -> None:
    demo_cycle(runtime)  # a running cycle, reconciled today when it started

    def reconciled() -> object:
        with runtime.sessions() as session:
            return session.scalar(select(Cycle.reconciled_on))

    assert reconciled() is not None
    user = created(scim.post("/Users", json=entra_user("kari@fjordvik.no", "kari@fjordvik.no")))
    assert reconciled() is None  # owed in the request's own transaction, as after a file import
    sweep(runtime)
    assert reconciled() is not None
    group = created(scim.post("/Groups", json={**entra_group("Nytt team"), "members": [{"value": user["id"]}]}))
    assert reconciled() is None
    sweep(runtime)
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert reconciled() is None
    sweep(runtime)
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert reconciled() is None
