"""Importing the organisation and the strategy into a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from aarshjul.db.models import AuditEvent, CompetenceArea, Person, StrategicGoal, StrategyPeriod, Unit
from aarshjul.domain.errors import ImportProblem
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import DEMO_ORG_FILE, import_org, load_strategy, seed_demo


def snapshot(runtime: Runtime) -> list[tuple]:
    with runtime.sessions() as session:
        people = [(p.email, p.name, p.unit_id, p.role, p.active_to) for p in session.scalars(select(Person))]
        units = [(u.code, u.name, u.parent_id, u.leader_id, u.active) for u in session.scalars(select(Unit))]
    return sorted(people, key=str) + sorted(units, key=str)


def test_seed_demo_loads_the_organisation_once(runtime: Runtime) -> None:
    assert seed_demo(runtime) is True
    assert seed_demo(runtime) is False
    with runtime.sessions() as session:
        units = list(session.scalars(select(Unit)))
        assert len(units) == 8
        assert all(u.leader_id is not None for u in units)
        depth = {u.id: 0 for u in units if u.parent_id is None}
        while len(depth) < len(units):
            for u in units:
                if u.parent_id in depth:
                    depth[u.id] = depth[u.parent_id] + 1
        assert max(depth.values()) == 2  # three levels
        assert len(list(session.scalars(select(Person)))) == 61
        period = session.scalars(select(StrategyPeriod)).one()
        assert (period.first_year, period.last_year) == (2025, 2028)
        assert len(list(session.scalars(select(StrategicGoal)))) == 4
        areas = {a.name: a.main_goal for a in session.scalars(select(CompetenceArea))}
        assert areas["Endrings- og omstillingskompetanse"] == (
            "Virksomheten har ledere og medarbeidere med evne og vilje til utvikling og endring"
        )


BAD_ORG_FILES = {
    "unknown parent unit": (
        lambda text: text.replace(",Hjemmetjenesten,HEL,", ",Hjemmetjenesten,NOPE,"),
        'unit "HJE" has unknown parent unit "NOPE"',
    ),
    "a cycle in the unit tree": (
        lambda text: text.replace(",Helse og omsorg,KOM,", ",Helse og omsorg,HJE,"),
        "the unit tree has a cycle: HEL -> HJE -> HEL",
    ),
    "duplicate email": (
        lambda text: text + "9999,Kopi,ingrid.myrvaag@fjordvik.kommune.no,HR,,,employee,nb,\n",
        'org.csv line 63: duplicate email "ingrid.myrvaag@fjordvik.kommune.no" (also on line 2)',
    ),
    "a unit without a leader": (
        lambda text: text.replace(",Bjørkås skole,OPP,leader,", ",Bjørkås skole,OPP,employee,"),
        'unit "BJO" has no leader',
    ),
    "a person in an unknown unit": (
        lambda text: text + "9999,Ola Nordmann,ola@fjordvik.kommune.no,GHOST,,,employee,nb,\n",
        'org.csv line 63: person "ola@fjordvik.kommune.no" is in unknown unit "GHOST"',
    ),
    "malformed email": (
        lambda text: text.replace("Ingrid Myrvåg", "Ingrid Myrvåg-Lie") + "9999,X,not-an-email,HR,,,employee,nb,\n",
        'org.csv line 63: malformed email "not-an-email"',
    ),
}


@pytest.mark.parametrize("case", list(BAD_ORG_FILES))
def test_a_bad_file_changes_nothing(runtime: Runtime, tmp_path: Path, case: str) -> None:
    seed_demo(runtime)
    before = snapshot(runtime)
    change, expected = BAD_ORG_FILES[case]
    bad = tmp_path / "org.csv"
    # Good changes (a new name, say) and a bad line in the same file: nothing is applied.
    bad.write_text(change(DEMO_ORG_FILE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ImportProblem) as caught:
        import_org(runtime, bad)
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems
    assert snapshot(runtime) == before


def test_a_reversed_strategy_changes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    from aarshjul.usecases.admin.org_import import DEMO_STRATEGY_FILE

    seed_demo(runtime)
    bad = tmp_path / "strategy.yaml"
    text = DEMO_STRATEGY_FILE.read_text(encoding="utf-8").replace("first_year: 2025", "first_year: 2029")
    bad.write_text(text.replace("Digital kompetanse", "Noe annet"), encoding="utf-8")
    with pytest.raises(ImportProblem) as caught:
        load_strategy(runtime, bad)
    assert caught.value.problems == [
        "strategy.yaml period: the year range 2029–2028 is reversed (first_year after last_year)"
    ]
    with runtime.sessions() as session:
        assert "Digital kompetanse" in [a.name for a in session.scalars(select(CompetenceArea))]


def test_reimport_updates_in_place_and_deactivates_leavers(runtime: Runtime, tmp_path: Path) -> None:
    seed_demo(runtime)
    with runtime.sessions() as session:
        ids_before = {p.email: p.id for p in session.scalars(select(Person))}
    lines = DEMO_ORG_FILE.read_text(encoding="utf-8").splitlines()
    leaver_line = lines[-1]
    leaver_email = leaver_line.split(",")[2]
    renamed = [line.replace("Ingrid Myrvåg,ingrid.myrvaag@", "Ingrid Lie,ingrid.lie@") for line in lines[:-1]]
    updated = tmp_path / "org-2027.csv"
    updated.write_text("\n".join(renamed) + "\n", encoding="utf-8")
    report = import_org(runtime, updated)
    assert (report.people_created, report.people_deactivated) == (0, 1)
    assert report.people_updated == 1
    with runtime.sessions() as session:
        people = {p.email: p for p in session.scalars(select(Person))}
        # matched by employee number: the same row, with the new name and email
        assert people["ingrid.lie@fjordvik.kommune.no"].id == ids_before["ingrid.myrvaag@fjordvik.kommune.no"]
        assert people["ingrid.lie@fjordvik.kommune.no"].name == "Ingrid Lie"
        # the leaver keeps their row (history) but is no longer active
        assert people[leaver_email].active_to is not None
        assert len(people) == 61
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "org.import")).all()
    # importing the full file again brings the leaver back
    report = import_org(runtime, DEMO_ORG_FILE)
    assert report.people_reactivated == 1


def test_strategy_needs_an_organisation_first(runtime: Runtime) -> None:
    from aarshjul.usecases.admin.org_import import DEMO_STRATEGY_FILE

    with pytest.raises(ImportProblem) as caught:
        load_strategy(runtime, DEMO_STRATEGY_FILE)
    assert caught.value.problems == ["strategy.yaml: import the organisation first (aarshjul org import FILE)"]


def test_reloading_the_strategy_updates_by_code(runtime: Runtime, tmp_path: Path) -> None:
    from aarshjul.usecases.admin.org_import import DEMO_STRATEGY_FILE

    seed_demo(runtime)
    changed = tmp_path / "strategy.yaml"
    changed.write_text(
        DEMO_STRATEGY_FILE.read_text(encoding="utf-8").replace("Digital kompetanse", "Digital kompetanse og KI"),
        encoding="utf-8",
    )
    report = load_strategy(runtime, changed)
    assert report.created is False
    with runtime.sessions() as session:
        names = [a.name for a in session.scalars(select(CompetenceArea).order_by(CompetenceArea.position))]
    assert names[1] == "Digital kompetanse og KI"
    assert len(names) == 4


def test_a_mobile_number_in_the_file_is_stored_and_a_later_file_without_it_clears_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    seed_demo(runtime)
    lines = DEMO_ORG_FILE.read_text(encoding="utf-8").splitlines()
    with_mobile = [lines[0] + ",mobile", lines[1] + ",912 34 567", *(line + "," for line in lines[2:])]
    updated = tmp_path / "org.csv"
    updated.write_text("\n".join(with_mobile) + "\n", encoding="utf-8")
    report = import_org(runtime, updated)
    assert report.people_updated == 1
    email = lines[1].split(",")[2]
    with runtime.sessions() as session:
        assert session.scalars(select(Person.mobile).where(Person.email == email)).one() == "+4791234567"
    import_org(runtime, DEMO_ORG_FILE)
    with runtime.sessions() as session:
        assert session.scalars(select(Person.mobile).where(Person.email == email)).one() is None
