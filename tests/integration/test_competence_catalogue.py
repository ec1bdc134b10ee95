"""The competence catalogue: loaded from CSV or YAML by ``aarshjul competences load`` under the
strategy's areas (a bad file changes nothing and names its line), updated by code with dropped
competences retired, and listed for HR by ``GET /api/competences``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from aarshjul.cli import main
from aarshjul.db.models import Competence
from aarshjul.domain.errors import ImportProblem
from aarshjul.runtime import Runtime
from aarshjul.settings import get_settings
from aarshjul.usecases.admin.competences import load_competences
from aarshjul.usecases.admin.org_import import DEMO_COMPETENCES_FILE, DEMO_ORG_FILE, import_org, seed_demo
from tests.hr_support import hr_clients

CSV = """area,code,name,kind,description
DIGITAL,DIG-SAK,Bruk av sakssystemet,realkompetanse,Maler og arkiv
HELSE,HEL-DEMENS,Demensomsorg,formal,
ENDRING,END-MEDARB,Medarbeiderskap,personal,Dele det en kan
"""


@pytest.fixture
def cli_env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("AARSHJUL_DATABASE_URL", runtime.settings.resolved_database_url)
    monkeypatch.setenv("AARSHJUL_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("AARSHJUL_SECRET_KEY", runtime.settings.secret())
    get_settings.cache_clear()
    yield runtime
    get_settings.cache_clear()


def catalogue(runtime: Runtime) -> dict[str, tuple[str, str, bool]]:
    with runtime.sessions() as session:
        return {c.code: (c.name, c.kind, c.retired) for c in session.scalars(select(Competence))}


def test_the_demo_catalogue_is_loaded_with_the_demo(runtime: Runtime) -> None:
    seed_demo(runtime)
    loaded = catalogue(runtime)
    assert len(loaded) == 11 and loaded["DIG-SAK"] == ("Bruk av sakssystemet", "realkompetanse", False)
    assert {kind for _, kind, _ in loaded.values()} == {"formal", "realkompetanse", "personal"}


def test_load_from_the_command_line_then_reload_retires_what_is_gone(
    cli_env: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_demo(cli_env)
    first = tmp_path / "katalog.csv"
    first.write_text(CSV, encoding="utf-8")
    assert main(["competences", "load", str(first)]) == 0
    assert "0 new, 3 updated, 8 retired" in capsys.readouterr().out  # the demo's other eight are retired
    second = tmp_path / "katalog2.csv"
    second.write_text(CSV.replace("Demensomsorg", "Demensomsorg (ABC)") + "KLIMA,KLI-NY,Solceller,formal,\n")
    assert main(["competences", "load", str(second)]) == 0
    assert "1 new, 1 updated, 0 retired" in capsys.readouterr().out
    loaded = catalogue(cli_env)
    assert loaded["HEL-DEMENS"] == ("Demensomsorg (ABC)", "formal", False)
    assert loaded["KLI-NY"] == ("Solceller", "formal", False)
    assert loaded["KLI-ENERGI"][2] is True  # retired, still there for what points at it
    assert main(["competences", "load", str(DEMO_COMPETENCES_FILE)]) == 0
    assert not catalogue(cli_env)["KLI-ENERGI"][2]  # back in the file: offered again


def test_a_bad_file_changes_nothing_and_names_each_line(
    cli_env: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_demo(cli_env)
    before = catalogue(cli_env)
    bad = tmp_path / "katalog.csv"
    bad.write_text(
        CSV
        + "NOWHERE,X-1,Ukjent område,formal,\n"
        + "DIGITAL,DIG-SAK,Dobbel,formal,\n"
        + "DIGITAL,X-2,Feil type,skill,\n"
        + "DIGITAL,,Uten kode,formal,\n",
        encoding="utf-8",
    )
    assert main(["competences", "load", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Nothing was changed" in err
    assert 'katalog.csv line 6: duplicate code "DIG-SAK" (also on line 2)' in err
    assert 'katalog.csv line 7: unknown kind "skill" (use formal, realkompetanse, personal)' in err
    assert "katalog.csv line 8: code is empty" in err
    assert catalogue(cli_env) == before
    # With the file's own mistakes fixed, an area the strategy does not have is named too.
    unknown = tmp_path / "område.csv"
    unknown.write_text(CSV + "NOWHERE,X-1,Ukjent område,formal,\n", encoding="utf-8")
    assert main(["competences", "load", str(unknown)]) == 1
    assert 'område.csv line 5: unknown competence area "NOWHERE"' in capsys.readouterr().err
    assert catalogue(cli_env) == before


def test_a_yaml_catalogue_names_its_records(runtime: Runtime, tmp_path: Path) -> None:
    seed_demo(runtime)
    bad = tmp_path / "katalog.yaml"
    bad.write_text(
        "competences:\n"
        "  - {area: DIGITAL, code: D1, name: Excel, kind: formal}\n"
        "  - {area: DIGITAL, code: D2, name: Word, kind: formal, level: 3}\n"
        "  - just text\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportProblem) as refused:
        load_competences(runtime, bad)
    assert refused.value.problems == [
        "katalog.yaml competences[1]: unknown field(s): level",
        "katalog.yaml competences[2]: expected a mapping",
    ]


def test_the_catalogue_waits_for_the_strategy(runtime: Runtime, tmp_path: Path) -> None:
    import_org(runtime, DEMO_ORG_FILE)
    good = tmp_path / "katalog.csv"
    good.write_text(CSV, encoding="utf-8")
    with pytest.raises(ImportProblem, match="load the strategy first"):
        load_competences(runtime, good)


def test_hr_lists_the_catalogue_and_nobody_else_does(runtime: Runtime) -> None:
    seed_demo(runtime)
    with hr_clients(runtime) as clients:
        answer = clients.client.get("/api/competences", headers=clients.api())
        assert answer.status_code == 200
        body = answer.json()
        assert [a["code"] for a in body["areas"]] == ["ENDRING", "DIGITAL", "HELSE", "KLIMA"]
        digital = body["areas"][1]
        assert [c["code"] for c in digital["competences"]] == ["DIG-SAK", "DIG-TJENESTE", "DIG-DATA"]
        assert digital["competences"][0]["kind"] == "realkompetanse"
        assert (body["first_year"], body["last_year"]) == (2025, 2028)
        assert clients.client.get("/api/competences", headers=clients.api(clients.leader_token)).status_code == 403
        assert clients.client.get("/api/competences").status_code == 401
