"""Every form fuzzed through its own faces: no input gives a 5xx, and nothing that is stored stops the
task from being shown again.

For each form, on a real task of the demo cycle:
- documents generated from the form's own JSON Schema (hypothesis-jsonschema, as served by
  ``GET /api/t/{token}``), posted as a submission and as a draft;
- malformed documents: the form's field names with any JSON value (also ``NaN``, ``Infinity``, lone
  surrogates, NULs, deep nesting), posted as raw JSON;
- the HTML form with any field names and values (row indices such as ``²``, control characters),
  posted with a valid CSRF token, as each of the form's actions.
After each post the task's JSON and its page must still answer below 500.

The seeds that found the faults the fuzz runs reported are kept as explicit examples.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from aarshjul.runtime import Runtime
from forms.registry import FORMS
from service.app import create_app
from service.routes.forms import csrf_token
from tests.builders import TaskRef, task_for

FUZZ = settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
NOT_STORABLE = ["\ud800", "a\x00b", "\udfff\ud800"]

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(NOT_STORABLE),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STATUSES: Counter[int] = Counter()  #: every fuzzed post's status, for the run's figures


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    yield
    ARTIFACTS.mkdir(exist_ok=True)
    document = {"forms": len(FORMS), "posts": sum(STATUSES.values()), "statuses": dict(STATUSES)}
    (ARTIFACTS / "fuzz-forms.json").write_text(json.dumps(document, indent=2, sort_keys=True))


class Task:
    def __init__(self, runtime: Runtime, form_key: str) -> None:
        self.runtime = runtime
        self.ref: TaskRef = task_for(runtime, form_key)
        self.client = TestClient(create_app(runtime), raise_server_exceptions=False)
        opened = self.client.get(self.api)
        assert opened.status_code == 200
        self.schema: dict[str, Any] = opened.json()["schema"]
        self.fields = sorted(self.schema.get("properties", {}))

    @property
    def api(self) -> str:
        return f"/api/t/{self.ref.token}"

    def still_shown(self) -> None:
        assert self.client.get(self.api).status_code < 500
        assert self.client.get(f"/t/{self.ref.token}").status_code < 500

    def post_json(self, body: bytes, draft: bool) -> None:
        answer = self.client.post(
            self.api + ("?draft=true" if draft else ""), content=body, headers={"Content-Type": "application/json"}
        )
        STATUSES[answer.status_code] += 1
        assert answer.status_code < 500, answer.text
        self.still_shown()


@pytest.mark.parametrize("form_key", sorted(FORMS))
def test_no_input_breaks_a_task(runtime: Runtime, form_key: str) -> None:
    task = Task(runtime, form_key)
    documents_from_the_forms_own_schema(task)
    malformed_documents(task)
    the_html_form_with_any_fields(task)


def documents_from_the_forms_own_schema(task: Task) -> None:
    @given(document=from_schema(task.schema), draft=st.booleans())
    @FUZZ
    def post(document: Any, draft: bool) -> None:
        task.post_json(json.dumps(document).encode(), draft)

    post()


def malformed_documents(task: Task) -> None:
    @given(
        document=st.dictionaries(st.sampled_from(task.fields) | st.text(max_size=8), junk, max_size=5),
        draft=st.booleans(),
    )
    @example(document={"x": float("nan")}, draft=True)
    @example(document={"x": float("inf")}, draft=True)
    @example(document={"x": "\ud800"}, draft=True)
    @example(document={"x": "\x00"}, draft=True)
    @FUZZ
    def post(document: Any, draft: bool) -> None:
        task.post_json(json.dumps(document, allow_nan=True).encode(), draft)

    post()
    # Nested deeper than any parser's stack: a 4xx, not a RecursionError.
    task.post_json(b"[" * 100_000 + b"]" * 100_000, draft=True)
    task.post_json(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, draft=False)


def the_html_form_with_any_fields(task: Task) -> None:
    names = st.sampled_from(task.fields) | st.builds(
        lambda field, index, key: f"{field}.{index}.{key}",
        st.sampled_from(task.fields or ["x"]),
        st.sampled_from(["0", "1", "²", "¹", "-1", "99999999999999999999", "٣", ""]),
        st.text(max_size=6),
    )
    values = st.text(max_size=40) | st.sampled_from(["2027-02-30", "99999-01-01", "1e309", "NaN", "0", "¹"])

    @given(
        fields=st.dictionaries(names, values, max_size=8), action=st.sampled_from(["submit", "save_draft", "add_row"])
    )
    @example(fields={"goals.².title": "x"}, action="save_draft")
    @example(fields={"x.99999999999999999999.y": "x"}, action="add_row")
    @FUZZ
    def post(fields: dict[str, str], action: str) -> None:
        body = {**fields, "csrf": csrf_token(task.runtime, task.ref.token), "action": action}
        answer = task.client.post(f"/t/{task.ref.token}", data=body, follow_redirects=False)
        STATUSES[answer.status_code] += 1
        assert answer.status_code < 500, answer.text
        task.still_shown()

    post()
