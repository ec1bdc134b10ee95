"""What every page and API answer shares: health, error pages, the body limit, languages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from aarshjul.runtime import Runtime
from service.app import create_app


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime)
    boom = APIRouter()

    @boom.get("/boom")
    def explode() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @boom.get("/api/boom")
    def explode_api() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.include_router(boom)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_health_answers_ok_once_the_database_is_reachable(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_an_unknown_page_is_a_plain_page_in_bokmaal_by_default(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Fant ikke siden" in response.text
    assert '<html lang="nb">' in response.text
    english = client.get("/no/such/page", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Page not found" in english.text
    assert "Page not found" in client.get("/no/such/page?lang=en").text


def test_a_crash_shows_no_stack_trace(client: TestClient) -> None:
    page = client.get("/boom")
    assert page.status_code == 500
    assert "Noe gikk galt" in page.text
    assert "hunter2" not in page.text and "Traceback" not in page.text
    api = client.get("/api/boom")
    assert api.status_code == 500
    assert "hunter2" not in api.text


def test_a_body_over_one_megabyte_is_refused_with_413(client: TestClient) -> None:
    big = b"x" * (1024 * 1024 + 1)
    assert client.post("/api/anything", content=big).status_code == 413
    page = client.post("/t/whatever", content=big, headers={"Accept-Language": "en"})
    assert page.status_code == 413
    assert "larger than 1 MB" in page.text


def test_pages_work_on_a_phone(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page.text
    assert "<script" not in page.text


def test_health_says_unavailable_when_the_database_is_gone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aarshjul.runtime import Runtime
    from aarshjul.settings import Settings

    missing = tmp_path / "no-such-dir" / "db.sqlite3"
    settings = Settings(data_dir=tmp_path, secret_key="x" * 40, database_url=f"sqlite:///{missing}")
    runtime = Runtime.from_settings(settings)
    # make_engine creates the folder; remove it so the connection cannot be opened
    missing.parent.rmdir()
    with TestClient(create_app(runtime)) as test_client:
        response = test_client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_every_page_offers_a_new_link_and_a_copy_of_my_data(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert '<a href="/link/new">Mistet lenken? Få en ny</a>' in page.text
    assert '<a href="/me/data">Hva som er lagret om meg</a>' in page.text
    assert client.get("/link/new").status_code == 200
    assert client.get("/me/data").status_code == 200
    english = client.get("/no/such/page?lang=en")
    assert "What is stored about me" in english.text


def test_the_address_itself_says_where_to_go(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/hr/login"' in page.text and 'href="/link/new"' in page.text
    assert "Har du fått en e-post fra Årshjul?" in page.text
    assert 'href="/dev/outbox"' in page.text  # the local outbox is the default backend
    assert "Got an email from Årshjul?" in client.get("/?lang=en").text
