"""Reading organisation and strategy files: every refusal names file, line and problem."""

from __future__ import annotations

import pytest

from aarshjul.domain.enums import Role
from aarshjul.domain.errors import ImportProblem
from aarshjul.domain.org_import import parse_org_csv, parse_org_yaml, parse_strategy_yaml
from aarshjul.usecases.admin.org_import import DEMO_ORG_FILE, DEMO_STRATEGY_FILE

HEADER = "employee_no,name,email,unit,unit_name,parent_unit,role,language,deputy\n"
GOOD = (
    HEADER
    + "1,Åse Bråthen,ase@x.no,TOP,Toppen,,leader,nb,\n"
    + "2,Geir Høyland,geir@x.no,TOP,Toppen,,hr,nb,\n"
    + "3,Øystein Kvåle,oystein@x.no,SUB,Underenheten,TOP,leader,en,\n"
    + "4,Kjærsti Sæther,kjaersti@x.no,SUB,Underenheten,TOP,employee,nb,\n"
)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ImportProblem) as caught:
        parse_org_csv(text, "org.csv")
    return caught.value.problems


def test_a_good_file_is_read_with_norwegian_letters_kept() -> None:
    document = parse_org_csv(GOOD, "org.csv")
    assert [u.code for u in document.units] == ["TOP", "SUB"]
    assert document.people[0].name == "Åse Bråthen"
    assert document.leader_of("SUB") is not None and document.leader_of("SUB").email == "oystein@x.no"
    assert document.people[1].role is Role.HR


def test_semicolon_separated_files_are_read_too() -> None:
    document = parse_org_csv(GOOD.replace(",", ";"), "org.csv")
    assert len(document.people) == 4


def test_unknown_parent_unit() -> None:
    text = GOOD.replace("SUB,Underenheten,TOP", "SUB,Underenheten,NOPE")
    assert problems_of(text) == ['org.csv line 4: unit "SUB" has unknown parent unit "NOPE"']


def test_a_cycle_in_the_unit_tree() -> None:
    text = (
        HEADER
        + "1,A,a@x.no,TOP,Toppen,,leader,nb,\n"
        + "2,H,h@x.no,TOP,Toppen,,hr,nb,\n"
        + "3,B,b@x.no,U1,En,U2,leader,nb,\n"
        + "4,C,c@x.no,U2,To,U1,leader,nb,\n"
    )
    assert problems_of(text) == ["org.csv line 4: the unit tree has a cycle: U1 -> U2 -> U1"]


def test_duplicate_email() -> None:
    text = GOOD + "5,Kopi,ASE@x.no,SUB,Underenheten,TOP,employee,nb,\n"
    assert problems_of(text) == ['org.csv line 6: duplicate email "ase@x.no" (also on line 2)']


def test_a_unit_without_a_leader() -> None:
    text = GOOD.replace(
        "3,Øystein Kvåle,oystein@x.no,SUB,Underenheten,TOP,leader",
        "3,Øystein Kvåle,oystein@x.no,SUB,Underenheten,TOP,employee",
    )
    assert problems_of(text) == ['org.csv line 4: unit "SUB" has no leader (give one person role leader in it)']


def test_a_person_in_an_unknown_unit() -> None:
    text = GOOD + "5,Ny,ny@x.no,GHOST,,,employee,nb,\n"
    assert problems_of(text) == ['org.csv line 6: person "ny@x.no" is in unknown unit "GHOST"']


def test_malformed_email() -> None:
    text = GOOD + "5,Ny,ny.x.no,SUB,Underenheten,TOP,employee,nb,\n"
    assert problems_of(text) == ['org.csv line 6: malformed email "ny.x.no"']


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD + "5,Ny,ny.x.no,SUB,Underenheten,TOP,boss,nb,\n" + "6,,,SUB,Underenheten,TOP,employee,nb,\n"
    assert problems_of(text) == [
        'org.csv line 6: malformed email "ny.x.no"',
        'org.csv line 6: unknown role "boss" (use hr, leader or employee)',
        "org.csv line 7: name is empty",
        'org.csv line 7: malformed email ""',
    ]


def test_missing_columns_are_named() -> None:
    assert problems_of("name,email\nA,a@x.no\n") == ["org.csv line 1: missing column(s): unit, role"]


def test_yaml_org_files_name_the_record() -> None:
    text = """
organisation: Test
units:
  - {code: TOP, name: Toppen}
  - {code: SUB, name: Under, parent: MISSING}
people:
  - {name: A, email: a@x.no, unit: TOP, role: leader}
  - {name: H, email: h@x.no, unit: TOP, role: hr}
  - {name: B, email: b@x.no, unit: SUB, role: leader}
"""
    with pytest.raises(ImportProblem) as caught:
        parse_org_yaml(text, "org.yaml")
    assert caught.value.problems == ['org.yaml units[1]: unit "SUB" has unknown parent unit "MISSING"']


STRATEGY = """
period: {name: Periode, first_year: %s, last_year: %s}
strategic_goals:
  - {code: SM1, title: Gode tjenester}
competence_areas:
  - {code: ENDRING, name: Endrings- og omstillingskompetanse, main_goal: Evne og vilje til endring}
"""


def test_a_reversed_strategy_year_range() -> None:
    with pytest.raises(ImportProblem) as caught:
        parse_strategy_yaml(STRATEGY % (2028, 2025), "strategy.yaml")
    assert caught.value.problems == [
        "strategy.yaml period: the year range 2028–2025 is reversed (first_year after last_year)"
    ]


def test_an_empty_strategy_year_range() -> None:
    with pytest.raises(ImportProblem) as caught:
        parse_strategy_yaml(STRATEGY % ("", ""), "strategy.yaml")
    assert caught.value.problems == [
        "strategy.yaml period: first_year must be a year between 2000 and 2100, got None",
        "strategy.yaml period: last_year must be a year between 2000 and 2100, got None",
    ]


def test_the_demo_files_are_valid() -> None:
    document = parse_org_csv(DEMO_ORG_FILE.read_text(encoding="utf-8"), "org.csv")
    assert 55 <= len(document.people) <= 65
    assert len(document.units) == 8
    assert sum(p.role is Role.HR for p in document.people) == 1
    strategy = parse_strategy_yaml(DEMO_STRATEGY_FILE.read_text(encoding="utf-8"), "strategy.yaml")
    assert (strategy.first_year, strategy.last_year) == (2025, 2028)
    assert "Endrings- og omstillingskompetanse" in [a.name for a in strategy.areas]


def test_the_mobile_column_is_read_as_e164_and_a_bad_number_names_its_line() -> None:
    text = HEADER.replace("deputy\n", "deputy,mobile\n") + (
        "1,Åse Bråthen,ase@x.no,TOP,Toppen,,leader,nb,,912 34 567\n"
        + "2,Geir Høyland,geir@x.no,TOP,Toppen,,hr,nb,,\n"
        + "3,Øystein Kvåle,oystein@x.no,TOP,Toppen,,employee,en,,22 33 44 55\n"
    )
    assert problems_of(text) == ['org.csv line 4: mobile "22 33 44 55" is not a mobile number (SMS cannot reach it)']
    document = parse_org_csv(text.replace("22 33 44 55", "+47 412 34 567"), "org.csv")
    assert [p.mobile for p in document.people] == ["+4791234567", None, "+4741234567"]


def test_the_yaml_file_takes_a_mobile_number_too() -> None:
    text = """
units: [{code: TOP, name: Toppen}]
people:
  - {name: Åse, email: ase@x.no, unit: TOP, role: leader, mobile: "91234567"}
  - {name: Geir, email: geir@x.no, unit: TOP, role: hr, mobile: 12}
"""
    with pytest.raises(ImportProblem) as caught:
        parse_org_yaml(text, "org.yaml")
    assert caught.value.problems == ['org.yaml people[1]: mobile "12" is not a valid phone number']
